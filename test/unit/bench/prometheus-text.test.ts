import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MalformedExpositionError, parsePrometheusText } from '../../../bench/prometheus-text.ts';

describe('parsePrometheusText', () => {
  it('should skip comments and blank lines and read each sample with its labels', () => {
    const text = [
      '# HELP http_requests_total Requests served.',
      '# TYPE http_requests_total counter',
      '',
      'http_requests_total{method="GET",code="200"} 1027',
      '   ',
      '  # a comment after blanks',
      'http_requests_total{method="POST",code="400",} 3 1395066363000',
      'process_start_time_seconds 1.7e9',
      'up{} 1',
      '',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'http_requests_total', labels: { method: 'GET', code: '200' }, value: 1027 },
      { name: 'http_requests_total', labels: { method: 'POST', code: '400' }, value: 3, timestampMs: 1395066363000 },
      { name: 'process_start_time_seconds', labels: {}, value: 1.7e9 },
      { name: 'up', labels: {}, value: 1 },
    ]);
  });

  it('should unescape quotes, backslashes and line feeds in label values', () => {
    const [sample] = parsePrometheusText('msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9');
    expect(sample?.labels).toEqual({ path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' });
    // A closing brace and a blank inside a quoted value are part of the value.
    expect(parsePrometheusText('odd{a="} 2",b="x"} 5')).toEqual([{ name: 'odd', labels: { a: '} 2', b: 'x' }, value: 5 }]);
  });

  it('should read +Inf, -Inf and NaN as the numbers they name', () => {
    const samples = parsePrometheusText(['a +Inf', 'b -Inf', 'c NaN', 'd{le="+Inf"} 4', 'e -0.5e-3'].join('\n'));
    expect(samples.map((s) => s.value)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 4, -0.0005]);
    expect(samples[3]?.labels).toEqual({ le: '+Inf' });
  });

  it.each([
    ['a value that is not a number', 'requests_total twelve'],
    ['no value', 'requests_total'],
    ['an unquoted label value', 'requests_total{code=200} 1'],
    ['an unclosed label value', 'requests_total{code="200} 1'],
    ['an unclosed label block', 'requests_total{code="200" 1'],
    ['an unknown escape', 'requests_total{path="C:\\DIR"} 1'],
    ['a label given twice', 'requests_total{code="200",code="500"} 1'],
    ['labels without a comma between them', 'requests_total{a="1" b="2"} 1'],
    ['a timestamp that is not an integer', 'requests_total 1 12.5'],
    ['something after the timestamp', 'requests_total 1 12 extra'],
    ['a metric name that starts with a digit', '9lives 1'],
  ])('should throw on %s, naming the line, and skip it when not strict', (_what, line) => {
    const text = `# TYPE requests_total counter\nok_total 1\n${line}\nok_total 2\n`;
    let thrown: unknown;
    try {
      parsePrometheusText(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MalformedExpositionError);
    expect(thrown).toMatchObject({ lineNumber: 3, line });
    expect(parsePrometheusText(text, { strict: false }).map((s) => s.value)).toEqual([1, 2]);
  });

  it('should read what prom-client writes, label values with quotes included', async () => {
    const registry = new Registry();
    new Counter({ name: 'calls_total', help: 'Calls.', labelNames: ['route'], registers: [registry] }).inc({ route: '/v1/job/"x"\\y' }, 2);
    new Gauge({ name: 'open', help: 'Open.', registers: [registry] }).set(3);
    new Histogram({ name: 'wait_seconds', help: 'Waits.', buckets: [0.1], registers: [registry] }).observe(0.05);
    const samples = parsePrometheusText(await registry.metrics());
    expect(samples).toEqual([
      { name: 'calls_total', labels: { route: '/v1/job/"x"\\y' }, value: 2 },
      { name: 'open', labels: {}, value: 3 },
      { name: 'wait_seconds_bucket', labels: { le: '0.1' }, value: 1 },
      { name: 'wait_seconds_bucket', labels: { le: '+Inf' }, value: 1 },
      { name: 'wait_seconds_sum', labels: {}, value: 0.05 },
      { name: 'wait_seconds_count', labels: {}, value: 1 },
    ]);
  });
});
