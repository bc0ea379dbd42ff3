// Images made here (build, commit): a new layer tar into the store (blob + unpacked layer), and the
// config + OCI manifest + tag record of the result.
import { renameSync, rmSync } from 'node:fs';
import { unpack } from './pull.js';
import { formatReference, parseReference } from './reference.js';
import { Store, type ImageRecord, sha256 } from './store.js';
import type { LayerTar } from './layer-tar.js';

export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** Moves a layer tar (uncompressed: its digest is its diff id) into the store and unpacks it. */
export async function storeLayer(store: Store, tarFile: string, lt: LayerTar): Promise<LayerDescriptor> {
  try {
    if (!store.hasBlob(lt.digest) || (await store.blobMismatch(lt.digest))) renameSync(tarFile, store.blobPath(lt.digest));
  } finally {
    rmSync(tarFile, { force: true });
  }
  await unpack(store, store.blobPath(lt.digest), lt.digest, lt.digest);
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: lt.digest, size: lt.size };
}

/** The layer descriptors of a stored image, from its manifest. */
export function imageLayers(store: Store, rec: ImageRecord): LayerDescriptor[] {
  const m = store.readJson<{ layers: LayerDescriptor[] }>(rec.manifest, 'manifest');
  return m.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
}

/** Writes config and manifest blobs; tags the image with each name (none: only the blobs, by id). */
export function saveImage(store: Store, config: object, layers: LayerDescriptor[], names: string[], created?: string): ImageRecord {
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  store.writeBlob(configDigest, configBytes);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBytes.length },
      layers,
    }),
  );
  const mdigest = sha256(manifest);
  store.writeBlob(mdigest, manifest);
  const diffIds = (config as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  const base = { manifest: mdigest, config: configDigest, diffIds, created: created ?? new Date().toISOString() };
  // An untagged image still needs a record to be run by id: it is named after its id, as a local name.
  const list = names.length ? names : [`localhost/build:${configDigest.slice(7, 19)}`];
  const recs = list.map((n) => ({ name: formatReference(parseReference(n)), ...base }));
  for (const r of recs) store.tag(r);
  return recs[0];
}
