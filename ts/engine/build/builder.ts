// docker build: a Dockerfile's stages, each instruction a step over the stage's state (config + layers).
// A filesystem step (RUN, COPY, ADD, WORKDIR) runs over an overlay of the stage's layers and its upper
// dir becomes the new layer; every step is cached by its parent, its instruction, the build args in
// effect and the content of what it reads, so an unchanged rebuild runs nothing.
import { rmSync } from 'node:fs';
import { posix } from 'node:path';
import { createHash } from 'node:crypto';
import { upperToTar } from '../../images/layer-tar.js';
import { imageLayers, saveImage, storeLayer, type LayerDescriptor } from '../../images/built.js';
import { findImage } from '../../images/manage.js';
import { hostPlatform, pull } from '../../images/pull.js';
import { Store, type ImageRecord } from '../../images/store.js';
import { isRootless } from '../../runtime/rootless.js';
import { resolveUser } from '../spec.js';
import { loadContext, type BuildContext, type Source } from './context.js';
import { copyInto, makeWorkdir } from './copy.js';
import { resolveSources, type Sources } from './sources.js';
import { applyMeta, command, getEnv, type ImageDoc } from './config.js';
import { inRootReader } from './inroot.js';
import { mountLayers, type WorkMount } from './mount.js';
import { parseDockerfile } from './parse.js';
import { flag, type Instruction, type Stage } from './instruction.js';
import { BuildError, DockerfileError } from './errors.js';

export { BuildError };
import { runStep, type BuildNetwork } from './run-step.js';
import { addArchive, isArchive } from './add.js';
import { expand, pairs, split } from './words.js';
import { readCache, writeCache, type CachedState } from './cache.js';

export interface BuildOptions {
  /** The context directory (none: a Dockerfile alone, nothing to COPY). */
  context?: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  dockerfileName?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  labels?: Record<string, string>;
  /** RUN's network: none (the default here), host, or default (the host's, as there is no build bridge). */
  network?: BuildNetwork;
  /** --secret id → host file. */
  secrets?: Record<string, string>;
  /** Seconds: clamps every timestamp of the image (SOURCE_DATE_EPOCH). */
  sourceDateEpoch?: number;
  platform?: string;
  /** A step starting (or taken from the cache). */
  onStep?: (e: { stage: number; step: number; steps: number; text: string; cached: boolean }) => void;
  /** A RUN step's output. */
  onOutput?: (chunk: Buffer) => void;
}

export interface BuildResult {
  /** The image id (config digest). */
  id: string;
  /** The manifest digest. */
  digest: string;
  names: string[];
  /** RUN steps executed (not from the cache). */
  ran: number;
  cached: number;
}

const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

interface StageState extends CachedState {
  key: string;
}

function h(...parts: string[]): string {
  const x = createHash('sha256');
  for (const p of parts) x.update(p).update('\0');
  return x.digest('hex');
}


/** Stages the target needs: FROM of an earlier stage, COPY --from, RUN --mount from=. */
function neededStages(stages: Stage[], target: Stage, metaVars: Record<string, string | undefined>): Set<number> {
  const need = new Set<number>();
  const byRef = (ref: string) => stages.find((s) => s.name === ref.toLowerCase() || String(s.index) === ref);
  const visit = (s: Stage) => {
    if (need.has(s.index)) return;
    need.add(s.index);
    const base = byRef(expand(s.base, metaVars));
    if (base && base.index < s.index) visit(base);
    for (const i of s.steps) {
      const refs = [flag(i, 'from'), ...i.flags.filter(([n]) => n === 'mount').map(([, v]) => /(?:^|,)from=([^,]+)/.exec(v ?? '')?.[1])];
      for (const r of refs) {
        const st = r && byRef(r);
        if (st && st.index < s.index) visit(st);
      }
    }
  };
  visit(target);
  return need;
}

export async function build(root: string, o: BuildOptions): Promise<BuildResult> {
  // Steps mount overlays on the host (mount.ts): a rootless build would need them inside a user namespace.
  if (isRootless()) throw new BuildError('build needs root here: its steps mount overlay filesystems on the host (rootless builds are not supported yet)');
  const store = new Store(root);
  const df = parseDockerfile(o.dockerfile, o.dockerfileName);
  const ctx: BuildContext | undefined = o.context ? loadContext(o.context) : undefined;
  const buildArgs = o.buildArgs ?? {};
  const epoch = o.sourceDateEpoch;
  const now = () => (epoch !== undefined ? new Date(epoch * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString());
  const [os, architecture] = (o.platform ?? hostPlatform()).split('/');
  // ARGs before FROM: only FROM lines see them (and stages that declare them again).
  // BuildKit's predefined platform args, usable in FROM --platform and, once declared, in a stage.
  const platform = `${os}/${architecture}`;
  const host = hostPlatform();
  const metaVars: Record<string, string | undefined> = { BUILDPLATFORM: host, BUILDOS: host.split('/')[0], BUILDARCH: host.split('/')[1], TARGETPLATFORM: platform, TARGETOS: os, TARGETARCH: architecture };
  for (const a of df.metaArgs) for (const [k, v] of argPairs(a, metaVars)) metaVars[k] = buildArgs[k] ?? v;
  const target = o.target ? df.stages.find((s) => s.name === o.target!.toLowerCase()) : df.stages[df.stages.length - 1];
  if (!target) throw new BuildError(`target stage ${JSON.stringify(o.target)} could not be found`);
  const need = neededStages(df.stages, target, metaVars);
  const done = new Map<number, StageState>();
  const totalSteps = df.stages.filter((s) => need.has(s.index)).reduce((n, s) => n + s.steps.length + 1, 0);
  let stepNo = 0;
  let ran = 0;
  let cached = 0;
  const images = new Map<string, StageState>();

  const imageState = async (name: string, wanted = o.platform): Promise<StageState> => {
    const known = images.get(name);
    if (known) return known;
    let rec: ImageRecord | undefined = o.pull ? undefined : findImage(store, name);
    rec ??= await pull(name, { root, platform: wanted });
    const doc = store.readJson<ImageDoc>(rec.config, 'config');
    const history = [...(doc.history ?? [])];
    // A base without history for each of its layers (an imported rootfs) gets entries for them: tools
    // that pair history with layers (buildah, skopeo) refuse an image where they do not add up.
    const missing = doc.rootfs.diff_ids.length - history.filter((x) => !x.empty_layer).length;
    for (let i = 0; i < missing; i++) history.unshift({ created: doc.created ?? new Date(0).toISOString(), created_by: '' });
    const st: StageState = { key: h('image', rec.config), doc: { ...doc, history }, layers: imageLayers(store, rec) };
    images.set(name, st);
    return st;
  };
  const stageRef = (ref: string, before: number) => df.stages.find((s) => (s.name === ref.toLowerCase() || String(s.index) === ref) && s.index < before);
  const stateOf = async (ref: string, before: number): Promise<StageState> => {
    const s = stageRef(ref, before);
    if (s) return done.get(s.index)!;
    return imageState(ref);
  };
  const mounts: WorkMount[] = [];
  const downloads: string[] = [];
  const rootOf = async (ref: string, before: number): Promise<string> => {
    const st = await stateOf(ref, before);
    const m = mountLayers(store, st.doc.rootfs.diff_ids);
    mounts.push(m);
    return m.merged;
  };

  try {
    for (const stage of df.stages) {
      if (!need.has(stage.index)) continue;
      const baseName = expand(stage.base, metaVars);
      const report = (text: string, c: boolean) => o.onStep?.({ stage: stage.index, step: ++stepNo, steps: totalSteps, text, cached: c });
      report(`FROM ${baseName}${stage.name ? ` AS ${stage.name}` : ''}`, false);
      let state: StageState;
      if (baseName.toLowerCase() === 'scratch') {
        state = { key: h('scratch', os, architecture), doc: { architecture, os, created: now(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [] };
      } else if (stageRef(baseName, stage.index)) state = done.get(stageRef(baseName, stage.index)!.index)!;
      else state = await imageState(baseName, stage.platform ? expand(stage.platform, metaVars) : o.platform);
      state = { key: state.key, doc: structuredClone(state.doc), layers: [...state.layers] };
      const cfg = () => state.doc.config;
      const vars: Record<string, string | undefined> = {};
      for (const e of cfg().Env ?? []) vars[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
      const args: Record<string, string> = {};
      for (const p of PROXY_ARGS) if (buildArgs[p] !== undefined) args[p] = buildArgs[p];
      const meta = { cmdFromBase: true };
      // ONBUILD triggers of the base run first, then are gone from this image.
      const triggers = (cfg().OnBuild ?? []).map((t, i) => {
        const parsed = parseDockerfile(`FROM scratch\n${t}\n`, `ONBUILD trigger ${i + 1} of ${baseName}`).stages[0].steps[0];
        return { ...parsed, line: stage.line };
      });
      cfg().OnBuild = null;

      const step = async (ins: Instruction, fromTrigger: boolean) => {
        const where = `${o.dockerfileName ?? 'Dockerfile'}:${ins.line}`;
        const exp = (s: string) => expand(s, { ...args, ...vars });
        const argsKey = JSON.stringify(Object.entries(args).sort());
        let inputs = '';
        let sources: Sources | undefined;
        const kw = ins.keyword;
        if (kw === 'ARG') {
          for (const [k, v] of argPairs(ins, { ...args, ...vars })) {
            const val = buildArgs[k] ?? v ?? metaVars[k];
            if (val !== undefined) args[k] = val;
            else delete args[k];
          }
          if (!fromTrigger) report(ins.text, false);
          return;
        }
        if (kw === 'COPY' || kw === 'ADD') {
          const got = await resolveSources(ins, {
            where,
            exp,
            store,
            ctx,
            network: o.network ?? 'none',
            temps: downloads,
            stageRoot: (ref) => rootOf(expand(ref, metaVars), stage.index),
          });
          sources = got.sources;
          inputs = got.inputs;
          ins = got.ins;
        }
        const key = h(state.key, ins.text, ins.args, argsKey, inputs, JSON.stringify(ins.flags));
        const hit = o.noCache ? undefined : readCache(store, key);
        if (hit) {
          state = { ...hit, key };
          for (const e of state.doc.config.Env ?? []) vars[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
          if (kw === 'CMD') meta.cmdFromBase = false;
          cached++;
          if (!fromTrigger) report(ins.text, true);
          return;
        }
        if (!fromTrigger) report(ins.text, false);
        const hist = (by: string, empty: boolean) => state.doc.history.push({ created: now(), created_by: by, comment: 'buildkit.dockerfile.v0', ...(empty ? { empty_layer: true } : {}) });
        if (!['RUN', 'COPY', 'ADD', 'WORKDIR'].includes(kw)) {
          try {
            applyMeta(cfg(), { ...ins, args: kw === 'CMD' || kw === 'ENTRYPOINT' || kw === 'SHELL' || kw === 'ONBUILD' || kw === 'HEALTHCHECK' ? ins.args : exp(ins.args) }, vars, meta);
          } catch (e) {
            throw new BuildError(`${where}: ${(e as Error).message}`);
          }
          if (kw === 'MAINTAINER') state.doc.author = exp(ins.args).trim();
          hist(`${ins.text} # buildkit`, true);
        } else {
          const m = mountLayers(store, state.doc.rootfs.diff_ids);
          try {
            let by = `${ins.text} # buildkit`;
            if (kw === 'WORKDIR') {
              const dir = posix.resolve(cfg().WorkingDir || '/', exp(ins.args.trim()));
              cfg().WorkingDir = dir;
              makeWorkdir(m.merged, dir, cfg().User ? resolveUser(inRootReader(m.merged), cfg().User) : { uid: 0, gid: 0 });
            } else if (kw === 'RUN') {
              const heredoc = /^<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2[^\n]*\n([\s\S]*?)\n\3\s*$/.exec(ins.args.trim());
              const argv = heredoc ? [...(cfg().Shell ?? ['/bin/sh', '-c']), heredoc[4]] : command(ins.args, cfg());
              by = `RUN ${argv.join(' ')} # buildkit`;
              const env = [...(cfg().Env ?? [])];
              if (!getEnv(cfg(), 'PATH')) env.unshift('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
              for (const [k, v] of Object.entries(args)) if (!env.some((e) => e.startsWith(`${k}=`))) env.push(`${k}=${v}`);
              const stageRoots = new Map<string, string>();
              for (const [, v] of ins.flags.filter(([n]) => n === 'mount')) {
                const from = /(?:^|,)from=([^,]+)/.exec(v ?? '')?.[1];
                if (from) stageRoots.set(from, await rootOf(from, stage.index));
              }
              const code = await runStep(m.merged, {
                args: argv,
                env,
                workdir: cfg().WorkingDir || '/',
                user: cfg().User,
                mounts: ins.flags.filter(([n]) => n === 'mount').map(([, v]) => exp(v ?? '')),
                network: o.network ?? 'none',
                root,
                contextDir: ctx?.dir,
                stageRoots: (n) => stageRoots.get(n),
                secrets: o.secrets ?? {},
                onOutput: o.onOutput,
              });
              ran++;
              if (code !== 0) throw new BuildError(`${where}: process ${JSON.stringify(argv.join(' '))} did not complete successfully: exit code: ${code}`);
            } else {
              const chown = flag(ins, 'chown');
              const chmod = flag(ins, 'chmod');
              if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw new BuildError(`${where}: --chmod=${chmod}: want an octal mode`);
              const owner = chown ? resolveUser(inRootReader(m.merged), exp(chown)) : undefined;
              const dest = exp(split(ins.args).at(-1) ?? '');
              const abs = dest.startsWith('/') ? dest : posix.join(cfg().WorkingDir || '/', dest) + (dest.endsWith('/') || dest === '.' ? '/' : '');
              const copyOpts = { owner: owner && { uid: owner.uid, gid: owner.gid }, mode: chmod !== undefined ? parseInt(chmod, 8) : undefined };
              if (kw === 'ADD') {
                const plain: Source[] = [];
                for (const s of sources!.list) {
                  // A download is never extracted (docker's rule); a local archive is.
                  if (!s.isDir && !downloads.some((d) => s.host.startsWith(`${d}/`)) && (await isArchive(s.host))) await addArchive(s.host, m.merged, abs, copyOpts);
                  else plain.push(s);
                }
                if (plain.length) copyInto(m.merged, sources!.srcRoot, sources!.ctx, plain, abs, copyOpts, kw);
              } else copyInto(m.merged, sources!.srcRoot, sources!.ctx, sources!.list, abs, copyOpts, kw);
            }
            const tmp = store.tempPath('layer.tar');
            const lt = await upperToTar(m.upper, tmp, { clamp: epoch });
            if (lt.entries === 0) {
              hist(by, true);
            } else {
              const desc: LayerDescriptor = await storeLayer(store, tmp, lt);
              state.layers.push(desc);
              state.doc.rootfs.diff_ids.push(lt.digest);
              hist(by, false);
            }
          } finally {
            m.release();
          }
        }
        state.key = key;
        writeCache(store, key, { doc: state.doc, layers: state.layers });
      };

      for (const t of triggers) await step(t, true);
      for (const ins of stage.steps) await step(ins, false);
      done.set(stage.index, state);
    }
    const final = done.get(target.index)!;
    const doc = structuredClone(final.doc);
    if (o.labels && Object.keys(o.labels).length) doc.config.Labels = { ...(doc.config.Labels ?? {}), ...o.labels };
    doc.created = now();
    doc.architecture = doc.architecture || architecture;
    doc.os = doc.os || os;
    const rec = saveImage(store, doc, final.layers, o.tags ?? []);
    return { id: rec.config, digest: rec.manifest, names: (o.tags ?? []).length ? (o.tags ?? []) : [], ran, cached };
  } catch (e) {
    if (e instanceof DockerfileError || e instanceof BuildError) throw e;
    throw new BuildError((e as Error).message);
  } finally {
    for (const m of mounts) m.release();
    for (const d of downloads) rmSync(d, { recursive: true, force: true });
  }
}

/** ARG NAME[=default] ... (each may carry a default). */
function argPairs(ins: Instruction, vars: Record<string, string | undefined>): [string, string | undefined][] {
  return split(ins.args).map((w) => {
    const i = w.indexOf('=');
    if (i < 0) return [w, undefined];
    return [w.slice(0, i), pairs(w, vars, false)[0][1]];
  });
}

