#!/usr/bin/env bash
# multinode.sh - three hookd nodes on one PostgreSQL (issue #8). A sender that fails over like
# Telnyx does (a connection error or a 503 goes to the next node) sends 80 calls of 15 events,
# 10% of them again to another node; one node is killed with kill -9 mid-load (and restarted once
# the others have taken over its work); two
# handlers (one with order = call) run on every node. Then PostgreSQL itself is restarted under
# load. What must hold across nodes:
#   - every event that got a 200 is stored, once per (id, endpoint), with one delivery per handler;
#   - every delivery ran at least once and ended succeeded; two runs of one delivery never
#     overlap; the runs of one call (order = call) never overlap and follow occurred_at;
#   - the extra runs are the deliberate retries and at most what the killed node had in flight;
#     no delivery succeeded twice; the killed node's claims were rescued (and counted);
#   - while PostgreSQL is down the nodes answer 503, never a 200 without a row, and each is ready
#     again within 20 s.
PG_PRIVATE=1 # it restarts PostgreSQL
. "$(dirname "$0")/lib.sh"
[ "$STORE" = postgres ] || { echo "multinode.sh runs on PostgreSQL only (HOOKD_TEST_STORE=postgres)"; exit 1; }
eval "$("$HOOKD" keygen | sed 's/^/K_/')"
new_store multi
export RUNS="$TMP/runs"
: >"$RUNS"

# A handler run (2-9 ms) leaves a start and an end line: S|E handler event node attempt microseconds.
# Events whose id starts with 0 (1 in 16) fail their first attempt, on purpose.
cat >"$TMP/record.sh" <<'SH'
#!/bin/bash
echo "S $1 $HOOKD_EVENT_ID $NODE_NAME $HOOKD_DELIVERY_ATTEMPT ${EPOCHREALTIME/./}" >>"$RUNS"
sleep "0.00$((RANDOM % 8 + 2))"
echo "E $1 $HOOKD_EVENT_ID $NODE_NAME $HOOKD_DELIVERY_ATTEMPT ${EPOCHREALTIME/./}" >>"$RUNS"
case $HOOKD_EVENT_ID in 0*) [ "$HOOKD_DELIVERY_ATTEMPT" = 1 ] && exit 1 ;; esac
exit 0
SH
chmod +x "$TMP/record.sh"

node_conf() {
  cat <<CONF
[server]
listen = 127.0.0.1:0
node = $1
[store]
url = $STORE_URL
lease_grace = 2
[endpoint telnyx]
scheme = telnyx
public_key = $K_public_key
[handler plain]
on = *
exec = $TMP/record.sh plain
concurrency = 8
timeout = 2
retry_base = 1
retry_max = 1
[handler ordered]
on = call.*
exec = $TMP/record.sh ordered
order = call
concurrency = 8
timeout = 2
retry_base = 1
retry_max = 1
CONF
}
declare -A PID PORTS
start_node() {
  node_conf "$1" >"$TMP/$1.conf"
  NODE_NAME=$1 start_server "$TMP/$1.log" -c "$TMP/$1.conf" || exit 1
  PID[$1]=$SERVER_PID
  PORTS[$1]=$PORT
}
T0=$(date +%s)
stamp() { echo "# +$(( $(date +%s) - T0 )) s: $1"; }
for n in n1 n2 n3; do start_node $n; done
stamp "three nodes started"
CLEANUP='kill -9 ${PID[n1]} ${PID[n2]} ${PID[n3]} 2>/dev/null'
urls() { echo "http://127.0.0.1:${PORTS[n1]}/webhooks/telnyx,http://127.0.0.1:${PORTS[n2]}/webhooks/telnyx,http://127.0.0.1:${PORTS[n3]}/webhooks/telnyx"; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
metric_of() { curl -s "http://127.0.0.1:${PORTS[$1]}/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

# --- load, with n2 killed at 40% and restarted --------------------------------------------------
"$NODE" "$CLIENT" cluster "$(urls)" "$K_private_key" 80 15 10 30 "$TMP/sent.jsonl" >"$TMP/sent.summary" &
LOADER=$!
for _ in $(seq 600); do [ "$(lines "$TMP/sent.jsonl")" -ge 530 ] && break; sleep 0.05; done
INFLIGHT_N2=$(sql "SELECT count(*) FROM deliveries WHERE state = 'in_flight' AND lease_owner = 'n2'")
kill -9 "${PID[n2]}"
KILLED_AT=$(date +%s%6N)
echo "# n2 killed with kill -9 after $(lines "$TMP/sent.jsonl") answers ($INFLIGHT_N2 of its claims in flight just before)"
wait "$LOADER"
stamp "load sent"
echo "# sender: $(cat "$TMP/sent.summary")"
expect_eq "$("$NODE" -e "console.log(JSON.parse(process.argv[1]).gaveUp)" "$(cat "$TMP/sent.summary")")" 0 \
  "every event was acknowledged by some node (failover past the killed one)"

# --- drain --------------------------------------------------------------------------------------
# owed: deliveries not ended; drain SECONDS: wait until none is.
owed() { sql "SELECT count(*) FROM deliveries WHERE state NOT IN ('succeeded', 'dead')"; }
drain() { for _ in $(seq $(($1 * 10))); do [ "$(owed)" = 0 ] && break; sleep 0.1; done; }
drain 60
expect_eq "$(owed)" 0 "every delivery ended (within 60 s)"
# n2 comes back: it finds nothing of its own to run again (n1 and n3 took its claims over).
RUNS_BEFORE=$(wc -l <"$RUNS")
start_node n2
sleep 2
expect_eq "$(wc -l <"$RUNS")" "$RUNS_BEFORE" "the restarted node reruns nothing (what it had claimed was taken over and done)"

stamp "drained"
# --- storage ------------------------------------------------------------------------------------
python3 -c '
import json, sys
ids = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["status"] == 200: ids.add(r["id"])
print("\n".join(sorted(ids)))' "$TMP/sent.jsonl" >"$TMP/acked"
read -r SAW STORED <<<"$(stored_of multi "$TMP/acked")"
expect_eq "$STORED" "$SAW" "every acknowledged event is stored ($STORED of $SAW)"
expect_eq "$(sql "SELECT count(*) - count(DISTINCT (id, endpoint)) FROM events")" 0 "once: one row per (id, endpoint), whichever nodes got its copies"
TOTAL=$(sql "SELECT count(*) FROM events")
echo "# stored $TOTAL events; acknowledged $SAW (a stored event without an acknowledgement had its answer lost with n2)"
expect_eq "$(( TOTAL - SAW ))" 0 "the sender's failover resent anything n2 had stored without answering (a duplicate then)"
expect_eq "$(sql "SELECT count(*) FROM events e WHERE (SELECT count(*) FROM deliveries d WHERE d.event_seq = e.seq) <> 2")" 0 \
  "every event has exactly one delivery per handler (2)"
expect_eq "$(sql "SELECT count(*) FROM deliveries WHERE state <> 'succeeded'")" 0 "every delivery succeeded"
expect_eq "$(sql "SELECT count(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.id LIKE '0%' AND d.attempts < 2")" 0 \
  "the deliveries that failed on purpose were retried"
expect_eq "$(sql "SELECT count(*) FROM (SELECT delivery_id FROM attempts WHERE outcome = 'succeeded' AND NOT fenced_out GROUP BY delivery_id HAVING count(*) > 1) AS twice")" 0 \
  "no delivery succeeded twice"
expect_eq "$(sql "SELECT count(*) FROM events WHERE received_by IS NULL OR received_by NOT IN ('n1', 'n2', 'n3')")" 0 "each event names the node that stored it"
expect_eq "$(sql "SELECT count(DISTINCT node) FROM attempts WHERE outcome = 'succeeded'")" 3 "every node ran handlers"

# --- the handler runs ---------------------------------------------------------------------------
sql "SELECT e.id, e.call_session_id FROM events e" >"$TMP/calls"
python3 - "$RUNS" "$TMP/sent.jsonl" "$TMP/calls" >"$TMP/analysis" <<'PY'
import json, sys, collections
runs, seqs, calls = {}, {}, {}
for l in open(sys.argv[2]):
    r = json.loads(l)
    seqs[r["id"]] = r["seq"]
for l in open(sys.argv[3]):
    i, c = l.strip().split("|")
    calls[i] = c
for l in open(sys.argv[1]):
    kind, h, ev, node, attempt, t = l.split()
    run = runs.setdefault((h, ev, node, attempt), {})
    run[kind] = int(t)
by_delivery = collections.defaultdict(list)
unfinished = 0
for (h, ev, node, attempt), r in runs.items():
    if "S" not in r or "E" not in r:
        unfinished += 1
        continue
    by_delivery[(h, ev)].append((r["S"], r["E"]))
overlap_delivery = 0
for k, rs in by_delivery.items():
    rs.sort()
    overlap_delivery += sum(1 for a, b in zip(rs, rs[1:]) if b[0] < a[1])
lanes = collections.defaultdict(list)
for (h, ev), rs in by_delivery.items():
    if h == "ordered":
        for s, e in rs:
            lanes[calls.get(ev)].append((s, e, seqs.get(ev, -1)))
overlap_call = out_of_order = 0
for c, rs in lanes.items():
    rs.sort()
    overlap_call += sum(1 for a, b in zip(rs, rs[1:]) if b[0] < a[1])
    out_of_order += sum(1 for a, b in zip(rs, rs[1:]) if b[2] < a[2])
deliveries = len(calls) * 2
on_purpose = sum(2 for ev in calls if ev.startswith("0"))
never_ran = sum(1 for ev in calls for h in ("plain", "ordered") if (h, ev) not in by_delivery)
total = sum(len(v) for v in by_delivery.values())
print(f"runs={total} deliveries={deliveries} on_purpose={on_purpose} extra={total - deliveries - on_purpose}"
      f" never_ran={never_ran} unfinished={unfinished} overlap_delivery={overlap_delivery}"
      f" overlap_call={overlap_call} out_of_order={out_of_order} calls={len(lanes)}")
PY
echo "# $(cat "$TMP/analysis")"
val() { sed -n "s/.*\b$1=\([-0-9]*\).*/\1/p" "$TMP/analysis"; }
expect_eq "$(val never_ran)" 0 "every delivery ran at least once"
expect_eq "$(val unfinished)" 0 "every run that started ended (a killed node's handlers finish on their own)"
expect_eq "$(val overlap_delivery)" 0 "two runs of one delivery never overlapped (claims, leases, fencing)"
expect_eq "$(val overlap_call)" 0 "order = call across nodes: the runs of one call never overlapped"
expect_eq "$(val out_of_order)" 0 "  and followed occurred_at"
EXTRA=$(val extra)
[ "$EXTRA" -ge 0 ] && [ "$EXTRA" -le 16 ]
expect_eq $? 0 "extra runs ($EXTRA) beyond the deliberate retries are at most what n2 could have had in flight (16)"
RESCUED=$(sql "SELECT count(*) FROM attempts WHERE outcome = 'lease_expired'")
METRIC=0
for n in n1 n2 n3; do METRIC=$(( METRIC + $(metric_of $n hookd_rescued_deliveries_total) )); done
echo "# $RESCUED of n2's claims were rescued (it had $INFLIGHT_N2 in flight just before the kill)"
expect_eq "$METRIC" "$RESCUED" "the rescues are counted (hookd_rescued_deliveries_total, summed over the nodes)"
expect_eq "$(sql "SELECT count(*) FROM attempts WHERE outcome = 'lease_expired' AND error NOT LIKE 'the claim of node n2 %'")" 0 \
  "  and each names the node whose claim ran out (n2)"
LATEST=$(sql "SELECT coalesce(max(finished_us), 0) FROM attempts WHERE outcome = 'lease_expired'")
echo "# the last rescue came $(( (LATEST - KILLED_AT) / 1000 )) ms after the kill"
expect_eq "$(( LATEST - KILLED_AT <= 10000000 ))" 1 "  by another node, within timeout + grace + the 5 s sweep (2 + 2 + 5 s)"
expect_eq "$(sql "SELECT count(*) FROM attempts WHERE outcome = 'lease_expired' AND node NOT IN ('n1', 'n3')")" 0 "  (n1 or n3)"

stamp "checked"
# --- PostgreSQL restarts under load -------------------------------------------------------------
"$NODE" "$CLIENT" cluster "$(urls)" "$K_private_key" 30 15 0 30 "$TMP/outage.jsonl" >"$TMP/outage.summary" &
LOADER=$!
for _ in $(seq 400); do [ "$(lines "$TMP/outage.jsonl")" -ge 150 ] && break; sleep 0.05; done
"$SCRIPTS/pg-tmp" restart "$PG_HOST"
wait "$LOADER"
echo "# through a PostgreSQL restart: $(cat "$TMP/outage.summary")"
ready=0
for _ in $(seq 200); do
  ready=0
  for n in n1 n2 n3; do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${PORTS[$n]}/readyz")" = 200 ] && ready=$((ready + 1)); done
  [ $ready = 3 ] && break
  sleep 0.1
done
expect_eq "$ready" 3 "every node is ready again within 20 s"
expect_eq "$(grep -l '"msg":"lost the connection to PostgreSQL' "$TMP"/n?.log | wc -l)" 3 "each node logged the loss"
FAILED_REQS=$(( $(metric_of n1 hookd_store_errors_total) + $(metric_of n2 hookd_store_errors_total) + $(metric_of n3 hookd_store_errors_total) ))
echo "# failed commits during the outage: $FAILED_REQS"
python3 -c '
import json, sys
print("\n".join(sorted({json.loads(l)["id"] for l in open(sys.argv[1]) if json.loads(l)["status"] == 200})))' "$TMP/outage.jsonl" >"$TMP/acked2"
read -r SAW STORED <<<"$(stored_of multi "$TMP/acked2")"
expect_eq "$STORED" "$SAW" "no 200 without a row through the outage ($STORED of $SAW)"
expect_eq "$("$NODE" -e "console.log(JSON.parse(process.argv[1]).gaveUp)" "$(cat "$TMP/outage.summary")")" 0 \
  "and the sender's retries got every event stored once the database was back"
drain 30
expect_eq "$(owed)" 0 "and dispatch resumed: every delivery ended"
[ "$(owed)" = 0 ] || sql "SELECT handler, state, count(*), min(attempts), max(attempts), min(next_attempt_us) - $(date +%s)000000, count(lease_until_us) FROM deliveries WHERE state NOT IN ('succeeded', 'dead') GROUP BY 1, 2" | sed 's/^/#   owed: /'
RECONNECTS=$(( $(metric_of n1 hookd_store_reconnects_total) + $(metric_of n2 hookd_store_reconnects_total) + $(metric_of n3 hookd_store_reconnects_total) ))
expect_eq "$(( RECONNECTS >= 3 ))" 1 "the reconnections are counted ($RECONNECTS over the three nodes)"
for n in n1 n2 n3; do kill -TERM "${PID[$n]}"; done
for n in n1 n2 n3; do wait "${PID[$n]}"; expect_eq $? 0 "$n: SIGTERM, exit 0"; done
finish
