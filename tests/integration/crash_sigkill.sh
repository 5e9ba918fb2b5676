#!/usr/bin/env bash
# Nothing committed is lost when the daemon is killed with SIGKILL mid-burst.
#
# The sim toggles call-101A as fast as the core takes it, so every reading is
# a change and becomes a journal event. The daemon logs "event #N" only after
# the commit. Each round kills it at a random moment; afterwards every event
# up to the highest one it logged must be in the database, the journal has no
# holes, the toggles alternate (a lost event would show the same value twice)
# and SQLite's integrity check passes. Then the daemon must start again on it.
. "$(dirname "$0")/lib.sh"

make_config "$TMP/burst.yaml" "        - {at_ms: 0, device: call-101A, point: call, value: 1, repeat: 5000000}"
db=$TMP/burst.db
rounds=${CRASH_ROUNDS:-6}
total_logged=0
for round in $(seq 1 "$rounds"); do
  log=$TMP/round$round.log
  start_daemon "$TMP/burst.yaml" "$db" "$log"
  wait_for "$log" "ready:" 10 || { not_ok "round $round: daemon did not become ready"; continue; }
  sleep "0.$((RANDOM % 9 + 1))"
  stop_daemon KILL
  logged=$(grep -oE 'event #[0-9]+' "$log" | tail -1 | tr -dc 0-9)
  logged=${logged:-0}
  present=$(sql "$db" "select count(*) from events where seq <= $logged")
  max_seq=$(sql "$db" "select coalesce(max(seq),0) from events")
  count=$(sql "$db" "select count(*) from events")
  integrity=$(sql "$db" "pragma integrity_check")
  note "round $round: killed after event #$logged was logged; journal holds $count events, max seq $max_seq"
  check "round $round: every logged (committed) event is in the journal ($present of $logged)" test "$present" -eq "$logged"
  check "round $round: the journal has no holes" test "$count" -eq "$max_seq"
  check "round $round: integrity_check ok" test "$integrity" = "ok"
  total_logged=$((total_logged + logged))
done

# Within each run (between "started" events) the toggles strictly alternate.
repeats=$(sql "$db" "
  with runs as (select seq, kind, body, sum(case when kind='system' and body like '%started%' then 1 else 0 end) over (order by seq) as run from events),
       calls as (select run, seq, json_extract(body,'$.value') as v, lag(json_extract(body,'$.value')) over (partition by run order by seq) as prev
                 from runs where kind='point')
  select count(*) from calls where prev is not null and v = prev")
calls=$(sql "$db" "select count(*) from events where kind='point'")
note "$calls toggle events over $rounds rounds; $total_logged committed events acknowledged in the logs"
check "no toggle is missing inside any run (values alternate)" test "$repeats" -eq 0
check "the bursts produced a real load (>1000 toggle events)" test "$calls" -gt 1000

log=$TMP/after.log
start_daemon "$TMP/burst.yaml" "$db" "$log"
check "the daemon starts again on the killed database" wait_for "$log" "ready:" 10
stop_daemon TERM
check "... and stops cleanly with exit 0" test "$DAEMON_RC" -eq 0
last=$(sql "$db" "select body from events order by seq desc limit 1")
check "... with a final 'stopped' event committed" grep -q '"stopped"' <<<"$last"
done_testing
