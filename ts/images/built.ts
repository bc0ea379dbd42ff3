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

/**
 * Writes the config and an OCI manifest over these layers as blobs and tags the image with each name:
 * what a loaded, imported, built or committed image is in the store.
 */
export function recordImage(store: Store, configBytes: Buffer, layers: LayerDescriptor[], diffIds: string[], names: string[], created = new Date().toISOString()): ImageRecord[] {
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
  // No name: a dangling image (docker load of an archive without RepoTags).
  const recs = (names.length ? names.map((n) => formatReference(parseReference(n))) : ['']).map((name) => ({ name, manifest: mdigest, config: configDigest, diffIds, created }));
  for (const r of recs) store.tag(r);
  return recs;
}

/** A built or committed image: tagged with each name, or dangling (none). */
export function saveImage(store: Store, config: object, layers: LayerDescriptor[], names: string[], created?: string): ImageRecord {
  const configBytes = Buffer.from(JSON.stringify(config));
  const diffIds = (config as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
  return recordImage(store, configBytes, layers, diffIds, names, created)[0];
}
