/**
 * The reference tables of docs/, built from the code so that they cannot drift from it: the
 * configuration table from the configuration schema and its meanings, the error codes from
 * `ERROR_CODES`, the metrics from the metrics registry. Each table lives in its page between
 * two marker comments; `npm run docs` rewrites what is between them, and test/docs.test.ts
 * fails when a committed page differs from what this module generates.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as prettier from 'prettier';
import { IsOptional, type TSchema } from 'typebox';
import { CONFIG_DOCS, CONFIG_GROUPS, type VariableDoc } from '../src/config/docs.js';
import { configSchema, type ConfigName } from '../src/config/config.js';
import { acceptedValues } from '../src/config/variables.js';
import { ERROR_CODES } from '../src/lib/errors.js';
import { createMetrics, workerMetricsOf } from '../src/lib/metrics.js';
import { registerQueueGauges } from '../src/queue/metrics.js';
import type { Queue } from '../src/queue/port.js';

export interface GeneratedRegion {
  /** Page, relative to the repository root. */
  file: string;
  /** Name in the markers: `<!-- generated:NAME begin … -->` … `<!-- generated:NAME end -->`. */
  name: string;
  render(): string;
}

export const REGIONS: GeneratedRegion[] = [
  { file: 'docs/configuration.md', name: 'configuration', render: configurationTables },
  { file: 'docs/api.md', name: 'error-codes', render: errorCodeTable },
  { file: 'docs/operations.md', name: 'metrics', render: metricsTable },
];

/** Escapes what would end a table cell. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => `\`${text}\``;

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function defaultOf(name: ConfigName, doc: VariableDoc): string {
  const schema: TSchema = configSchema.properties[name];
  if ('default' in schema) return code(JSON.stringify(schema.default).replace(/^"|"$/g, ''));
  if (IsOptional(schema) && doc.unset) return `unset: ${doc.unset}`;
  throw new Error(`${name} has no default; its entry in src/config/docs.ts needs "unset"`);
}

export function configurationTables(): string {
  const names = Object.keys(configSchema.properties) as ConfigName[];
  return CONFIG_GROUPS.map((group) => {
    const rows = names
      .filter((name) => CONFIG_DOCS[name].group === group)
      .map((name) => {
        const doc: VariableDoc = CONFIG_DOCS[name];
        return [
          code(name),
          doc.meaning,
          defaultOf(name, doc),
          acceptedValues(configSchema.properties[name], code),
        ];
      });
    return `### ${group}\n\n${table(['variable', 'meaning', 'default', 'accepted values'], rows)}`;
  }).join('\n\n');
}

export function errorCodeTable(): string {
  const rows = Object.entries(ERROR_CODES).map(([name, meaning]) => [code(name), meaning]);
  return table(['code', 'meaning'], rows);
}

/** Stands in for a queue: the gauges read it only when scraped, never while listed here. */
const NO_QUEUE = {} as Queue;

export function metricsTable(): string {
  const metrics = createMetrics({ processMetrics: false });
  const own = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
  registerQueueGauges(metrics, NO_QUEUE);
  const deciding = new Set(workerMetricsOf('requests'));
  const delivering = new Set(workerMetricsOf('callbacks'));
  const servedBy = (name: string) =>
    deciding.has(name)
      ? 'worker role (deciding)'
      : delivering.has(name)
        ? 'worker role (delivering)'
        : own.has(name)
          ? 'API'
          : 'API (read from the queue when scraped)';
  // prom-client's types leave out the label names its metric objects carry.
  const labelsOf = (metric: object) => (metric as { labelNames?: string[] }).labelNames ?? [];
  const rows = metrics.registry
    .getMetricsAsArray()
    .map((m) => [
      code(m.name),
      String(m.type),
      labelsOf(m).length === 0 ? '–' : labelsOf(m).map(code).join(', '),
      servedBy(m.name),
      m.help,
    ]);
  return table(['metric', 'type', 'labels', 'counted by', 'meaning'], rows);
}

const begin = (name: string) => new RegExp(`<!-- generated:${name} begin[^>]*-->`);
const end = (name: string) => `<!-- generated:${name} end -->`;

/** The page with every region of it regenerated, formatted as Prettier formats the repo. */
export async function regeneratedPage(root: string, file: string): Promise<string> {
  let text = readFileSync(join(root, file), 'utf8');
  for (const region of REGIONS.filter((r) => r.file === file)) {
    const start = begin(region.name).exec(text);
    const stop = text.indexOf(end(region.name));
    if (!start || stop < start.index)
      throw new Error(`${file}: the markers of the generated ${region.name} region are missing`);
    const head = text.slice(0, start.index + start[0].length);
    text = `${head}\n\n${region.render()}\n\n${text.slice(stop)}`;
  }
  const options = (await prettier.resolveConfig(join(root, file))) ?? {};
  return prettier.format(text, { ...options, filepath: join(root, file) });
}

export const GENERATED_FILES = [...new Set(REGIONS.map((r) => r.file))];
