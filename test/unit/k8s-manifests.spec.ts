import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/app-config.js';
import { envSchema } from '../../src/config/env.schema.js';

/**
 * The Kubernetes manifests in k8s/ and the Dockerfile, checked offline: each object against
 * the Kubernetes API schemas (kubernetes-models), and against what Tessera itself expects of
 * its environment, probes, commands and shutdown timing.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = join(ROOT, 'k8s');
const KUSTOMIZATION = 'kustomization.yaml';
/** Installed with the monitoring stack, and created out of band: not by `kubectl apply -k k8s/`. */
const NOT_APPLIED = ['prometheus-adapter.yaml', 'secret.example.yaml'];

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

/** kubectl reads manifests as YAML 1.1 (`yes`, `on` are booleans there), so they are read the same way here. */
const readYaml = (text: string): unknown => parse(text, { version: '1.1' });

const yamlFiles = readdirSync(K8S)
  .filter((file) => file.endsWith('.yaml'))
  .sort();
const manifests: { file: string; object: Manifest }[] = yamlFiles
  .filter((file) => file !== KUSTOMIZATION)
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S, file), 'utf8'), { version: '1.1' }).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
      return { file, object: document.toJS() as Manifest };
    }),
  );
const kustomization = readYaml(readFileSync(join(K8S, KUSTOMIZATION), 'utf8')) as {
  namespace: string;
  resources: string[];
  images?: { name: string }[];
};

function find(kind: string, name: string): Manifest {
  const found = manifests.find(({ object }) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`k8s/ has no ${kind} ${name}`);
  return found.object;
}

const ofKind = (kind: string) => manifests.filter(({ object }) => object.kind === kind).map(({ object }) => object);
const podSpecOf = (workload: Manifest) => workload.spec.template.spec;
const workloads = () => ofKind('Deployment');
const containersOf = (workload: Manifest): any[] => [...(podSpecOf(workload).initContainers ?? []), ...podSpecOf(workload).containers];

function onlyContainer(workload: Manifest): any {
  const containers: any[] = podSpecOf(workload).containers;
  expect(containers).toHaveLength(1);
  return containers[0];
}

/** The environment a container starts with, as the kubelet builds it: envFrom in order, then env on top. */
function envOf(container: any): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, find('ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) Object.assign(env, find('Secret', source.secretRef.name).stringData);
  }
  for (const { name, value } of container.env ?? []) env[name] = value;
  return env;
}

/** The command a package.json script ends with (`npm run build --silent && node x.js` → node x.js). */
function scriptCommand(script: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return scripts[script].split('&&').at(-1)!.trim().split(/\s+/);
}

type ModelClass = new (data: unknown) => { validate(): void };

/** The kubernetes-models class of a kind: `apps/v1` Deployment is `kubernetes-models/apps/v1`'s Deployment. */
async function modelOf(apiVersion: string, kind: string): Promise<ModelClass> {
  expect(apiVersion).toMatch(/^([a-z0-9.-]+\/)?v\d+(alpha\d+|beta\d+)?$/);
  const models = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, ModelClass | undefined>;
  const model = models[kind];
  if (!model) throw new Error(`kubernetes-models has no ${kind} in ${apiVersion}`);
  return model;
}

const MODELS = join(ROOT, 'node_modules', 'kubernetes-models');
/** A field a kubernetes-models type declares, with the .d.ts of its own type when that is an object. */
type Field = { typeFile?: string; array: boolean };
const declaredFields = new Map<string, Map<string, Field> | null>();

/**
 * The fields a kubernetes-models type declares, read from its .d.ts: the compiled validators
 * check types and required fields but accept unknown ones, so `spec.replica` would pass.
 * Null for scalar aliases (Quantity, IntOrString).
 */
function fieldsOf(dts: string): Map<string, Field> | null {
  if (declaredFields.has(dts)) return declaredFields.get(dts)!;
  if (!existsSync(dts)) throw new Error(`no type declarations at ${dts}`);
  const text = readFileSync(dts, 'utf8');
  const imports = new Map<string, string>();
  for (const [, names, from] of text.matchAll(/^import \{ ([\w, ]+) \} from "([^"]+)";$/gm)) {
    // Relative imports name their file with or without `.js`.
    const path = `${from.replace(/\.js$/, '')}.d.ts`;
    const file = from.startsWith('.') ? join(dirname(dts), path) : join(ROOT, 'node_modules', path);
    for (const name of names.split(', ')) imports.set(name, file);
  }
  const body = /^export interface \w+(?: extends [\w, ]+)? \{$([\s\S]*?)^\}$/m.exec(text)?.[1];
  const fields =
    body === undefined
      ? null
      : new Map(
          [...body.matchAll(/^ {4}"([^"]+)"\??: (.+?);?$/gm)].map(([, name, type]): [string, Field] => {
            const element = /^Array<(\w+)>$/.exec(type)?.[1];
            return [name, { typeFile: imports.get(element ?? type), array: element !== undefined }];
          }),
        );
  declaredFields.set(dts, fields);
  return fields;
}

/** Paths of the fields of `value` that its kubernetes-models type does not declare, at any depth. */
function undeclaredFields(value: unknown, dts: string, path: string): string[] {
  const fields = fieldsOf(dts);
  if (!fields || typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([name, child]) => {
    const field = fields.get(name);
    if (!field) return [`${path}${name}`];
    if (!field.typeFile) return [];
    if (field.array && Array.isArray(child)) {
      return child.flatMap((item, i) => undeclaredFields(item, field.typeFile!, `${path}${name}[${i}].`));
    }
    return undeclaredFields(child, field.typeFile, `${path}${name}.`);
  });
}

const undeclaredFieldsOf = (object: Manifest) => undeclaredFields(object, join(MODELS, object.apiVersion, `${object.kind}.d.ts`), '');

describe('k8s/ manifests', () => {
  it('parse, and every object is valid for the Kubernetes API', async () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const { file, object } of manifests) {
      expect({ file, ok: object !== null && typeof object === 'object' }).toEqual({ file, ok: true });
      const Model = await modelOf(object.apiVersion, object.kind);
      expect(() => new Model(object).validate()).not.toThrow();
      expect({ file, kind: object.kind, undeclared: undeclaredFieldsOf(object) }).toEqual({ file, kind: object.kind, undeclared: [] });
    }
  });

  it('the field check catches the typos the schema validation lets through', async () => {
    const deployment = structuredClone(find('Deployment', 'tessera-api'));
    deployment.spec.replica = 5;
    deployment.spec.template.spec.containers[0].imagePullPolcy = 'Always';
    deployment.spec.template.spec.containers[0].ports[0].protocoll = 'TCP';
    deployment.spec.template.spec.containers[0].lifecycle.preStop.sleep.second = 5;
    deployment.spec.template.metadata.annotation = {};
    const hpa = structuredClone(find('HorizontalPodAutoscaler', 'tessera-api'));
    hpa.spec.behavior.scaleDown.stabilisationWindowSeconds = 60;
    const Deployment = await modelOf('apps/v1', 'Deployment');
    expect(() => new Deployment(deployment).validate()).not.toThrow();
    expect(undeclaredFieldsOf(deployment).sort()).toEqual([
      'spec.replica',
      'spec.template.metadata.annotation',
      'spec.template.spec.containers[0].imagePullPolcy',
      'spec.template.spec.containers[0].lifecycle.preStop.sleep.second',
      'spec.template.spec.containers[0].ports[0].protocoll',
    ]);
    expect(undeclaredFieldsOf(hpa)).toEqual(['spec.behavior.scaleDown.stabilisationWindowSeconds']);
  });

  it('kustomization.yaml lists every resource file but the Secret and adapter examples', () => {
    expect(kustomization.namespace).toBe('tessera');
    for (const resource of kustomization.resources)
      expect({ resource, exists: existsSync(join(K8S, resource)) }).toEqual({ resource, exists: true });
    const expected = yamlFiles.filter((file) => file !== KUSTOMIZATION && !NOT_APPLIED.includes(file));
    expect([...kustomization.resources].sort()).toEqual(expected);
    // Applied on its own, the Secret example still lands in Tessera's namespace.
    expect(find('Secret', 'tessera-secrets').metadata.namespace).toBe(kustomization.namespace);
  });

  it('wires the Service, Ingress, HPAs and PDBs to the pods they mean', () => {
    const api = find('Deployment', 'tessera-api');
    const service = find('Service', 'tessera-api');
    expect(api.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    const servicePort = service.spec.ports.find((port: any) => port.targetPort === onlyContainer(api).ports[0].name);
    expect(servicePort).toBeDefined();
    for (const rule of find('Ingress', 'tessera-api').spec.rules) {
      for (const { backend } of rule.http.paths)
        expect(backend.service).toEqual({ name: service.metadata.name, port: { name: servicePort.name } });
    }
    for (const hpa of ofKind('HorizontalPodAutoscaler')) {
      expect(find(hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name).apiVersion).toBe(hpa.spec.scaleTargetRef.apiVersion);
    }
    for (const [pdb, deployment] of [
      ['tessera-api', 'tessera-api'],
      ['tessera-worker', 'tessera-worker'],
    ]) {
      const selector = find('PodDisruptionBudget', pdb).spec.selector.matchLabels;
      expect(find('Deployment', deployment).spec.template.metadata.labels).toMatchObject(selector);
      expect(find('Deployment', deployment).spec.selector.matchLabels).toEqual(selector);
    }
  });
});

describe('autoscaling', () => {
  const adapter = readYaml(find('ConfigMap', 'prometheus-adapter-tessera-rules').data['config.yaml']) as {
    rules: { seriesQuery: string; name: { matches: string; as?: string }; metricsQuery: string; resources: any }[];
    externalRules: { seriesQuery: string; name: { matches: string; as?: string }; metricsQuery: string }[];
  };
  const adapterMetric = (rule: { name: { as?: string } }) => rule.name.as;

  it('scales the API between 5 and 50 pods on CPU, memory and sockets per pod', () => {
    const { spec } = find('HorizontalPodAutoscaler', 'tessera-api');
    expect(spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'tessera-api' });
    expect([spec.minReplicas, spec.maxReplicas]).toEqual([5, 50]);
    const resource = (name: string) => spec.metrics.find((m: any) => m.type === 'Resource' && m.resource.name === name)?.resource.target;
    expect(resource('cpu')).toEqual({ type: 'Utilization', averageUtilization: 65 });
    expect(resource('memory')).toEqual({ type: 'Utilization', averageUtilization: 75 });
    const sockets = spec.metrics.find((m: any) => m.type === 'Pods');
    expect(sockets.pods.metric.name).toBe('active_connections');
    expect(sockets.pods.target.type).toBe('AverageValue');
    expect(Number(sockets.pods.target.averageValue)).toBeLessThan(Number(find('ConfigMap', 'tessera-config').data.WS_MAX_CONNECTIONS));
    expect(spec.behavior.scaleUp).toEqual({
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Max',
      policies: [
        { type: 'Percent', value: 100, periodSeconds: 15 },
        { type: 'Pods', value: 4, periodSeconds: 15 },
      ],
    });
    expect(spec.behavior.scaleDown).toEqual({
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [
        { type: 'Percent', value: 25, periodSeconds: 60 },
        { type: 'Pods', value: 2, periodSeconds: 60 },
      ],
    });
  });

  it('the API memory target is relative to a memory request', () => {
    expect(onlyContainer(find('Deployment', 'tessera-api')).resources.requests.memory).toBeDefined();
  });

  it('scales the workers on an External backlog metric the adapter serves', () => {
    const { spec } = find('HorizontalPodAutoscaler', 'tessera-worker');
    expect(spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'tessera-worker' });
    expect(spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(spec.maxReplicas).toBeGreaterThan(spec.minReplicas);
    const backlog = spec.metrics.find((m: any) => m.type === 'External');
    expect(backlog.external.target.type).toBe('AverageValue');
    const rule = adapter.externalRules.find((r) => adapterMetric(r) === backlog.external.metric.name);
    expect(rule).toBeDefined();
    // queue_jobs is cluster-wide and identical on every pod: pods are collapsed with max, never summed.
    expect(rule!.seriesQuery).toContain('queue_jobs');
    expect(rule!.metricsQuery).toMatch(/max by \(queue\)/);
    expect(rule!.metricsQuery).toContain('state="waiting"');
    expect(rule!.metricsQuery).toContain('<<.LabelMatchers>>');
    expect(spec.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  });

  it('the adapter turns the active_connections gauge into the per-pod metric the API scales on', () => {
    const podsMetric = find('HorizontalPodAutoscaler', 'tessera-api').spec.metrics.find((m: any) => m.type === 'Pods').pods.metric.name;
    const rule = adapter.rules.find((r) => adapterMetric(r) === podsMetric);
    expect(rule).toBeDefined();
    expect(rule!.seriesQuery).toMatch(/^active_connections\{/);
    expect(new RegExp(rule!.name.matches).test('active_connections')).toBe(true);
    expect(rule!.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    expect(rule!.metricsQuery).toBe('sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)');
  });
});

describe('pods', () => {
  it('probe readiness and liveness on the health routes, on the port the app listens on', () => {
    for (const deployment of ofKind('Deployment')) {
      for (const container of podSpecOf(deployment).containers) {
        const port = loadConfig(envOf(container)).PORT;
        expect(container.ports).toContainEqual(expect.objectContaining({ containerPort: port }));
        const named = container.ports.find((p: any) => p.containerPort === port).name;
        expect(container.readinessProbe.httpGet.path).toBe('/api/health/ready');
        expect(container.livenessProbe.httpGet.path).toBe('/api/health/live');
        for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(Boolean)) {
          expect([port, named]).toContain(probe.httpGet.port);
        }
      }
    }
  });

  it('give every process time to drain and close before the kubelet kills it', () => {
    for (const deployment of ofKind('Deployment')) {
      const container = onlyContainer(deployment);
      const { DRAIN_DELAY_MS, SHUTDOWN_TIMEOUT_MS } = loadConfig(envOf(container));
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      const needed = preStop + DRAIN_DELAY_MS / 1000 + SHUTDOWN_TIMEOUT_MS / 1000;
      expect({ deployment: deployment.metadata.name, enough: podSpecOf(deployment).terminationGracePeriodSeconds >= needed }).toEqual({
        deployment: deployment.metadata.name,
        enough: true,
      });
    }
    // Behind the Service, SIGTERM waits until the endpoint removal has propagated.
    expect(onlyContainer(find('Deployment', 'tessera-api')).lifecycle.preStop.sleep.seconds).toBeGreaterThan(0);
    expect(envOf(onlyContainer(find('Deployment', 'tessera-worker'))).DRAIN_DELAY_MS).toBe('0');
  });

  it('run the API, the workers and, before either starts, the migration, with the project commands from one image', () => {
    const api = onlyContainer(find('Deployment', 'tessera-api'));
    const worker = onlyContainer(find('Deployment', 'tessera-worker'));
    expect(api.command).toEqual(['node', 'dist/main.js']);
    expect(api.command).toEqual(scriptCommand('start:prod'));
    expect(worker.command).toEqual(['node', 'dist/worker.js']);
    expect(worker.command).toEqual(scriptCommand('start:worker'));
    expect([...api.command, ...(api.args ?? [])]).not.toContain('--migrate');
    for (const deployment of workloads()) {
      const [migrate, ...others] = podSpecOf(deployment).initContainers ?? [];
      expect({ deployment: deployment.metadata.name, command: migrate?.command, others }).toEqual({
        deployment: deployment.metadata.name,
        command: scriptCommand('db:migrate'),
        others: [],
      });
      expect(migrate.envFrom).toEqual(onlyContainer(deployment).envFrom);
    }
    const images = new Set(workloads().flatMap((w) => containersOf(w).map((c) => c.image)));
    expect(images.size).toBe(1);
    expect(kustomization.images?.map((i) => i.name)).toContain([...images][0]);
  });

  it('cap the V8 heap of each server process below its memory limit', () => {
    const mebibytes = (quantity: string) => Number(/^(\d+)Mi$/.exec(quantity)?.[1] ?? Number(/^(\d+)Gi$/.exec(quantity)?.[1]) * 1024);
    for (const deployment of workloads()) {
      const container = onlyContainer(deployment);
      const heap = Number(/--max-old-space-size=(\d+)/.exec(envOf(container).NODE_OPTIONS ?? '')?.[1]);
      const where = deployment.metadata.name;
      expect({ where, capped: heap > 0 && heap <= mebibytes(container.resources.limits.memory) * 0.8 }).toEqual({ where, capped: true });
    }
  });

  it('set requests and limits and run as non-root everywhere', () => {
    for (const workload of workloads()) {
      const pod = podSpecOf(workload);
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`;
        expect({ where, resources: container.resources }).toEqual({
          where,
          resources: {
            requests: { cpu: expect.anything(), memory: expect.anything() },
            limits: { cpu: expect.anything(), memory: expect.anything() },
          },
        });
        expect({ where, nonRoot: container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot }).toEqual({
          where,
          nonRoot: true,
        });
        expect({ where, escalation: container.securityContext?.allowPrivilegeEscalation }).toEqual({ where, escalation: false });
      }
    }
  });
});

describe('configuration', () => {
  const configMap = find('ConfigMap', 'tessera-config');
  const secret = find('Secret', 'tessera-secrets');
  const settings = Object.keys(envSchema.shape).sort();

  it('provides every setting once, from the ConfigMap or the Secret, and nothing else', () => {
    const plain = Object.keys(configMap.data);
    const secrets = Object.keys(secret.stringData);
    expect(plain.filter((name) => secrets.includes(name))).toEqual([]);
    expect([...plain, ...secrets].sort()).toEqual(settings);
    for (const value of [...Object.values(configMap.data), ...Object.values(secret.stringData)]) expect(typeof value).toBe('string');
    expect(secret.data).toBeUndefined();
    for (const name of [
      'DATABASE_URL',
      'REDIS_URL',
      'JWT_SECRET',
      'ADMIN_TOKEN',
      'SIGNED_URL_SECRET',
      'AI_API_KEY',
      'IMAGE_API_KEY',
      'METRICS_TOKEN',
    ]) {
      expect(secrets).toContain(name);
    }
  });

  it('passes the config validation in every container, placeholders included', () => {
    for (const workload of workloads()) {
      for (const container of containersOf(workload)) {
        expect(container.envFrom).toEqual([{ configMapRef: { name: 'tessera-config' } }, { secretRef: { name: 'tessera-secrets' } }]);
        const config = loadConfig(envOf(container));
        expect(config).toMatchObject({ NODE_ENV: 'production', TRUST_PROXY: true, RUN_WORKERS: false, jwtSecretGenerated: false });
        expect(config.DATABASE_URL).toBeDefined();
        expect(config.REDIS_URL).toBeDefined();
      }
    }
  });

  it('keeps artifacts on the shared volume in every process that reads or writes them', () => {
    const { ARTIFACTS_DIR } = configMap.data;
    expect(ARTIFACTS_DIR).toMatch(/^\//);
    expect(find('PersistentVolumeClaim', 'tessera-artifacts').spec.accessModes).toContain('ReadWriteMany');
    for (const deployment of ofKind('Deployment')) {
      const pod = podSpecOf(deployment);
      const mount = onlyContainer(deployment).volumeMounts.find((m: any) => m.mountPath === ARTIFACTS_DIR);
      expect(pod.volumes.find((v: any) => v.name === mount?.name)?.persistentVolumeClaim).toEqual({ claimName: 'tessera-artifacts' });
    }
  });
});

describe('Dockerfile', () => {
  const instructions = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => ({ keyword: line.split(/\s+/)[0].toUpperCase(), rest: line.slice(line.search(/\s/) + 1).trim() }));
  const finalStage = instructions.slice(instructions.findLastIndex((i) => i.keyword === 'FROM'));
  const last = (keyword: string) => finalStage.filter((i) => i.keyword === keyword).at(-1)?.rest;

  it('builds in one stage and runs the API as a non-root user in another', () => {
    expect(instructions.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(last('USER')).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(last('USER'));
    expect(finalStage.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.rest))).toBe(true);
    expect(last('HEALTHCHECK')).toContain('/api/health/live');
    const cmd = last('CMD')!;
    expect(cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : cmd.split(/\s+/)).toEqual(scriptCommand('start:prod'));
    expect(Number(last('EXPOSE'))).toBe(Number(find('ConfigMap', 'tessera-config').data.PORT));
  });
});
