#!/usr/bin/env bash
# The Prometheus files shipped in conf.d/prometheus/ with the real promtool:
# the scrape config and the alert rules are valid, every alert fires and
# stays quiet where its unit tests say, and the Grafana dashboard is JSON
# whose queries parse and only use metric families Berth exposes.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_cmd promtool jq
dir=$BERTH_SOURCE_DIR/conf.d/prometheus

# promtool resolves rule_files relative to the config: check a copy.
cp "$dir/prometheus.yml" "$dir/berth-alerts.yml" "$dir/berth-alerts.test.yml" "$TEST_TMP/"
run "promtool check config prometheus.yml" promtool check config "$TEST_TMP/prometheus.yml"

# The commented bearer-token example must be valid once uncommented
# (promtool also checks that the token file exists).
echo secret >"$TEST_TMP/token"
sed -E -e 's/^    # (authorization:|  type: Bearer)$/    \1/' \
	-e "s|^    #   credentials_file: .*|      credentials_file: $TEST_TMP/token|" \
	"$TEST_TMP/prometheus.yml" >"$TEST_TMP/prometheus-token.yml"
assert_eq "$(grep -c '^    authorization:$' "$TEST_TMP/prometheus-token.yml")" 1 \
	"prometheus.yml has a commented bearer-token example"
run "promtool check config with the bearer-token example" \
	promtool check config "$TEST_TMP/prometheus-token.yml"
run "promtool check rules berth-alerts.yml" promtool check rules "$TEST_TMP/berth-alerts.yml"
run "promtool test rules berth-alerts.test.yml" promtool test rules "$TEST_TMP/berth-alerts.test.yml"

# Every alert the README lists, and a firing and a quiet case for each.
for alert in BerthPullFailureRateHigh BerthStorageAlmostFull BerthAuthFailuresHigh BerthDown \
	BerthHigh5xxRate BerthWebhookDeadLetters BerthEventsDropped; do
	grep -q "alert: $alert\$" "$dir/berth-alerts.yml" || fail "berth-alerts.yml has no $alert"
	cases=$(grep -c "alertname: $alert\$" "$dir/berth-alerts.test.yml")
	[ "$cases" -ge 2 ] || fail "$alert has $cases test cases, want a firing and a quiet one"
	grep -A1 "alertname: $alert\$" "$dir/berth-alerts.test.yml" | grep -q "exp_alerts: \[\]" ||
		fail "$alert has no quiet case"
	ok "$alert is defined and tested firing and quiet"
done

# A rule that can never fire must fail the unit tests: break one threshold.
sed 's/> 0.85/> 0.99/' "$TEST_TMP/berth-alerts.yml" >"$TEST_TMP/broken.yml"
sed 's/berth-alerts.yml/broken.yml/' "$TEST_TMP/berth-alerts.test.yml" >"$TEST_TMP/broken.test.yml"
run_fails "the unit tests notice a changed threshold" promtool test rules "$TEST_TMP/broken.test.yml"

# The dashboard.
dash=$dir/grafana-dashboard.json
run "grafana-dashboard.json is JSON" jq -e '.panels | length > 0' "$dash"
# shellcheck disable=SC2016 # "${datasource}" is Grafana's, not the shell's
run "the dashboard picks its Prometheus data source from a variable" jq -e '
	any(.templating.list[]; .type == "datasource" and .query == "prometheus" and .name == "datasource")
	and all(.panels[]; .datasource.uid == "${datasource}"
		and all(.targets[]; .datasource.uid == "${datasource}" and (.expr | length > 0)))' "$dash"
run "the dashboard's panels have distinct ids" jq -e '[.panels[].id] | length == (unique | length)' "$dash"

# Every panel query parses as PromQL: promtool checks them as recording rules
# once Grafana's variables are replaced by what Grafana would put there.
jq '{groups: [{name: "dashboard", rules: [.panels[].targets[].expr |
	gsub("\\$__rate_interval"; "1m") | gsub("\\$instance"; ".*") |
	{record: "dashboard:query", expr: .}]}]}' "$dash" >"$TEST_TMP/dashboard-rules.json"
run "every dashboard query is valid PromQL" promtool check rules "$TEST_TMP/dashboard-rules.json"

# The families metrics-prometheus documents, and the webhook plugin's counter.
families=(berth_http_requests_total berth_http_request_duration_seconds berth_http_request_bytes_total
	berth_http_response_bytes_total berth_manifest_pulls_total berth_manifest_pushes_total
	berth_pull_failures_total berth_scan_blocks_total berth_uploads_in_progress
	berth_auth_failures_total berth_auth_denials_total berth_events_dropped_total
	berth_events_queue_depth berth_storage_used_bytes berth_storage_available_bytes
	berth_storage_total_bytes berth_storage_objects berth_build_info berth_plugin_info
	berth_webhook_dead_letters_total process_resident_memory_bytes process_virtual_memory_bytes
	process_cpu_seconds_total process_open_fds process_max_fds process_start_time_seconds)
used=$(jq -r '[.panels[].targets[].expr, .templating.list[].query?] | .[] | strings' "$dash")
used+=$'\n'$(grep -vE '^\s*#' "$dir/berth-alerts.yml")
for name in $(printf '%s\n' "$used" | grep -oE '\b(berth|process)_[a-z_]+' | sort -u); do
	base=${name%_bucket}
	base=${base%_count}
	base=${base%_sum}
	known=0
	for f in "${families[@]}"; do
		[ "$f" = "$base" ] && known=1
	done
	[ $known = 1 ] || fail "the dashboard or the rules query '$name', which no Berth family provides"
done
ok "every metric the dashboard and the rules query is one Berth exposes"
