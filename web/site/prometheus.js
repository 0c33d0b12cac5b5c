// A reader of the Prometheus text format 0.0.4 as wsvisor's /metrics writes
// it (docs/metrics.md): enough for the dashboard, not a general parser
// (no timestamps, no exemplars).

function unescapeLabel(value) {
  return value.replace(/\\(["\\n])/g, (_, c) => (c === "n" ? "\n" : c));
}

/**
 * The samples of a /metrics body.
 * @param {string} text
 * @returns {{name: string, labels: Record<string,string>, value: number}[]}
 */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) {
      for (const l of m[2].matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[l[1]] = unescapeLabel(l[2]);
      }
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The samples named `name` whose labels include every pair of `match`. */
export function select(samples, name, match = {}) {
  return samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );
}

/** The sum of the selected samples' values (0 when there are none). */
export function total(samples, name, match = {}) {
  return select(samples, name, match).reduce((sum, s) => sum + s.value, 0);
}
