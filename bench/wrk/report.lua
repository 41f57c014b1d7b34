-- report.lua: the result line every bench/wrk script prints when wrk ends,
-- as one JSON object the harness reads (latencies in microseconds).
local report = {}

function report.done(summary, latency, requests)
	local e = summary.errors
	local secs = summary.duration / 1e6
	io.write(string.format(
		'{"requests":%d,"seconds":%.3f,"rps":%.2f,"bytes":%d,"bytes_per_s":%.1f,' ..
		'"p50_us":%d,"p99_us":%d,"max_us":%d,"errors":%d,' ..
		'"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d}\n',
		summary.requests, secs, summary.requests / secs, summary.bytes, summary.bytes / secs,
		latency:percentile(50), latency:percentile(99), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout,
		e.connect, e.read, e.write, e.status, e.timeout))
end

return report
