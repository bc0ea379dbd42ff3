// The image a container was made from. docker's containers outlive their image's names (a rebuild or a
// pull moves the tag on, rmi -f removes it) and the image itself (rmi -f while they are stopped): the
// store's record while it has one (dangling or not), else what the container's snapshot kept of it.
import { Store, type ImageRecord } from '../images/store.js';
import { snapshotImage } from '../images/snapshot.js';
import type { ContainerRecord } from './containers.js';
import type { ImageConfig } from './spec.js';

export interface ContainerImage {
  /** The store's record; without one (`stored` false) its name is '' and it has no manifest. */
  rec: ImageRecord;
  /** Whether the store still has the image (commit needs its blobs). */
  stored: boolean;
  /** Its config blob. */
  doc: { config?: ImageConfig };
}

export function containerImage(root: string, r: ContainerRecord): ContainerImage | undefined {
  const store = new Store(root);
  const rec = store.images().find((i) => i.config === r.ImageId);
  if (rec) return { rec, stored: true, doc: store.readJson<{ config?: ImageConfig }>(rec.config, 'config') };
  const kept = snapshotImage(root, r.Id);
  if (!kept) return undefined;
  return { rec: { name: '', manifest: '', config: r.ImageId, diffIds: kept.diffIds, created: '' }, stored: false, doc: JSON.parse(kept.config.toString()) as { config?: ImageConfig } };
}
