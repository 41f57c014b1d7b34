"""Measurements, their medians, the ratios between servers and the targets
of issue 7, printed as one table (and optionally written as JSON)."""
import json
import statistics

BERTH, BERTH_NOFSYNC, DIST, NGINX, OPENSSL = (
    "berth", "berth-nofsync", "distribution", "nginx", "openssl")


class Metric:
    def __init__(self, key, title, unit, higher_is_better):
        self.key, self.title, self.unit = key, title, unit
        self.higher = higher_is_better
        self.values = {}                  # server -> [value per run]

    def median(self, server):
        v = self.values.get(server)
        return statistics.median(v) if v else None


class Results:
    def __init__(self):
        self.metrics = {}
        self.targets = []
        self.notes = []

    def metric(self, key, title, unit, higher_is_better=True):
        if key not in self.metrics:
            self.metrics[key] = Metric(key, title, unit, higher_is_better)
        return self.metrics[key]

    def add(self, key, server, value):
        self.metrics[key].values.setdefault(server, []).append(value)

    def median(self, key, server):
        m = self.metrics.get(key)
        return m.median(server) if m else None

    def target(self, name, met, detail):
        self.targets.append({"target": name, "met": met, "detail": detail})

    # --- output -------------------------------------------------------------

    def table(self):
        rows = [("metric", "unit", "berth", "berth fsync off", "distribution", "nginx",
                 "B/D", "B/nginx", "runs")]
        for m in self.metrics.values():
            b = m.median(BERTH)
            cells = []
            for s in (BERTH, BERTH_NOFSYNC, DIST, NGINX):
                v = m.median(s)
                cells.append(_fmt(v) if v is not None else "-")
            if OPENSSL in m.values:
                cells[3] = _fmt(m.median(OPENSSL)) + " (reference)"
            ratios = []
            for other in (DIST, NGINX if NGINX in m.values else OPENSSL):
                o = m.median(other)
                ratios.append(f"{b / o:.2f}x" if b is not None and o else "-")
            n = max((len(v) for v in m.values.values()), default=0)
            rows.append((m.title, m.unit, *cells, *ratios, str(n)))
        return _render(rows)

    def target_lines(self):
        out = []
        for t in self.targets:
            mark = "MET   " if t["met"] else ("MISSED" if t["met"] is False else "n/a   ")
            out.append(f"  [{mark}] {t['target']}: {t['detail']}")
        return "\n".join(out)

    def as_json(self, header):
        return json.dumps({
            **header,
            "metrics": {k: {"title": m.title, "unit": m.unit,
                            "higher_is_better": m.higher, "runs": m.values,
                            "median": {s: m.median(s) for s in m.values}}
                        for k, m in self.metrics.items()},
            "targets": self.targets,
            "notes": self.notes,
        }, indent=1)


def _fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 0.1 else f"{v:.3f}"


def _render(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [c.rjust(w) for c, w in zip(r[2:], widths[2:])]
        lines.append("| " + " | ".join(cells) + " |")
        if j == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
