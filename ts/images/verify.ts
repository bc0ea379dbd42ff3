// image verify (system check): re-hashes every blob an image needs and compares each unpacked layer with
// the record of its files made when it was unpacked; reports what is missing, corrupt or changed.
import { findImage } from './manage.js';
import { readTreeRecord, compareTree } from './tree-record.js';
import { Store, type ImageRecord } from './store.js';

export interface VerifyReport {
  image: string;
  /** One line per problem, e.g. "blob sha256:…: corrupt (…)", "layer sha256:…: etc/passwd: content changed". */
  problems: string[];
  /** Layers without a record of their files (unpacked before records were kept): their contents were not compared. */
  unrecorded: string[];
}

/** At most this many changed paths per layer are listed. */
const MAX_PATHS = 50;

export async function verifyImages(root: string, names: string[] = []): Promise<VerifyReport[]> {
  const store = new Store(root);
  const recs: ImageRecord[] = names.length
    ? names.map((n) => {
        const r = findImage(store, n);
        if (!r) throw new Error(`No such image: ${n}`);
        return r;
      })
    : store.images();
  // Images share blobs and layers: each is checked once.
  const blobs = new Map<string, string | undefined>();
  const layers = new Map<string, { problems: string[]; unrecorded: boolean }>();
  const checkBlob = async (digest: string, role: string): Promise<string | undefined> => {
    if (!blobs.has(digest)) {
      let p: string | undefined;
      if (!store.hasBlob(digest)) p = 'missing';
      else {
        const got = await store.blobMismatch(digest);
        if (got) p = `corrupt (its content has digest ${got})`;
      }
      blobs.set(digest, p);
    }
    const p = blobs.get(digest);
    return p && `blob ${digest} (${role}): ${p}`;
  };
  const out: VerifyReport[] = [];
  for (const r of recs) {
    const problems: string[] = [];
    const unrecorded: string[] = [];
    const add = (p: string | undefined) => p && problems.push(p);
    add(await checkBlob(r.config, 'config'));
    const m = await checkBlob(r.manifest, 'manifest');
    add(m);
    if (!m) {
      const doc = store.readJson<{ layers?: { digest: string }[] }>(r.manifest, 'manifest');
      for (const [i, l] of (doc.layers ?? []).entries()) {
        // A layer's blob may be absent when the layer is unpacked (it is then only needed by save).
        if (store.hasBlob(l.digest) || !store.hasLayer(r.diffIds[i])) add(await checkBlob(l.digest, `layer ${i + 1}`));
      }
    }
    for (const d of r.diffIds) {
      if (!layers.has(d)) {
        const found: string[] = [];
        let none = false;
        if (!store.hasLayer(d)) found.push(`layer ${d}: missing`);
        else {
          const rec = readTreeRecord(store.treePath(d));
          if (!rec) none = true;
          else {
            const diff = compareTree(store.layerPath(d), rec);
            found.push(...diff.slice(0, MAX_PATHS).map((x) => `layer ${d}: ${x}`));
            if (diff.length > MAX_PATHS) found.push(`layer ${d}: ... and ${diff.length - MAX_PATHS} more changes`);
          }
        }
        layers.set(d, { problems: found, unrecorded: none });
      }
      const l = layers.get(d)!;
      problems.push(...l.problems);
      if (l.unrecorded) unrecorded.push(d);
    }
    out.push({ image: r.name, problems, unrecorded });
  }
  return out;
}
