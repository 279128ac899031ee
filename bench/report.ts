/** What every scenario reports, and how a run is written down: JSON for machines, Markdown for people. */

/** One figure, always next to the baseline it is compared with, measured in the same run. */
export interface Figure {
  scenario: string;
  /** What was measured, e.g. `p50 latency, concurrency 1`. */
  measure: string;
  unit: string;
  value: number;
  baseline: { name: string; value: number };
  /** `value / baseline.value`. */
  ratio: number;
  /** The target for the ratio or the value, when it sets one. */
  target?: { of: 'ratio' | 'value'; op: '<=' | '>=' | '=='; bound: number };
  /** Whether the target is met. */
  met?: boolean;
  /** How it was measured, when the measure alone does not say. */
  note?: string;
}

export function figure(fields: Omit<Figure, 'ratio' | 'met'>): Figure {
  const ratio = fields.baseline.value === 0 ? Number.NaN : fields.value / fields.baseline.value;
  const target = fields.target;
  let met: boolean | undefined;
  if (target !== undefined) {
    const subject = target.of === 'ratio' ? ratio : fields.value;
    met = target.op === '<=' ? subject <= target.bound : target.op === '>=' ? subject >= target.bound : subject === target.bound;
  }
  return { ...fields, ratio, met };
}

export interface BenchRun {
  date: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  durationSeconds: number;
  figures: Figure[];
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function formatTarget(figure: Figure): string {
  if (figure.target === undefined) return '';
  const { of, op, bound } = figure.target;
  const text = `${of === 'ratio' ? 'ratio' : 'value'} ${op.replace('<=', '≤').replace('>=', '≥').replace('==', '=')} ${bound}`;
  return `${text}: ${figure.met === true ? 'met' : 'NOT met'}`;
}

/** The Markdown table of a run, as the README quotes it. */
export function markdownTable(run: BenchRun): string {
  const lines = [
    `${run.quick ? 'Quick run (tiny sizes, not a measurement)' : 'Run'} of ${run.date}: ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memoryGiB} GiB, Node ${run.machine.node}, ${run.durationSeconds} s.`,
    '',
    '| scenario | measure | gateway | baseline | ratio | target |',
    '|---|---|---|---|---|---|',
  ];
  for (const f of run.figures) {
    lines.push(
      `| ${f.scenario} | ${f.measure} | ${formatNumber(f.value)} ${f.unit} | ${f.baseline.name}: ${formatNumber(f.baseline.value)} ${f.unit} | ${formatNumber(f.ratio)}× | ${formatTarget(f)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
