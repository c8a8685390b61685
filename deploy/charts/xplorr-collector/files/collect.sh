#!/bin/sh
# xplorr-collector: post this cluster's OpenCost costs to Xplorr (run hourly by the CronJob).
#
# 1. GET $OPENCOST_URL/allocation for the last WINDOW_DAYS days, one step per day, by
#    namespace, controller and pod, idle apart; POST that JSON unchanged (gzipped) to
#    $XPLORR_INGEST_URL. Each day it holds replaces that day in Xplorr.
# 2. For each of those days, GET $OPENCOST_URL/assets for the day (to now for today) and POST
#    it to $XPLORR_INGEST_URL/assets?date=YYYY-MM-DD. A failure here is reported and
#    tolerated: an OpenCost without the Assets API still yields namespace, controller and pod
#    cost.
#
# 3. With PROMETHEUS_URL set: for each day, per container, CPU P50/P95/max and memory working
#    set P95/max over 5-minute samples, and requests and limits, each an instant query at the
#    day's end POSTed unchanged to $XPLORR_INGEST_URL/usage?date=YYYY-MM-DD&metric=<name>
#    (what Xplorr's rightsizing reads). Failures are reported and tolerated.
#
# Needs: sh, curl, gzip, date (busybox or GNU). Exit status: non-zero when step 1 failed, so
# the Job is retried (backoffLimit).
set -eu

: "${OPENCOST_URL:?set OPENCOST_URL (OpenCost API, e.g. http://opencost.opencost:9003)}"
: "${XPLORR_INGEST_URL:?set XPLORR_INGEST_URL (.../api/v1/kubernetes/ingest/<clusterId>)}"
: "${XPLORR_INGEST_TOKEN:?set XPLORR_INGEST_TOKEN (the cluster's xpk8s_ token)}"
WINDOW_DAYS="${WINDOW_DAYS:-3}"
OPENCOST_URL="${OPENCOST_URL%/}"
XPLORR_INGEST_URL="${XPLORR_INGEST_URL%/}"

work="$(mktemp -d "${TMPDIR:-/tmp}/xplorr-collector.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# --fail-with-body: an HTTP error fails the call and its answer (Xplorr's error envelope,
# which names what was refused) is printed.
fetch() { # url file
  curl --silent --show-error --fail-with-body --retry 3 --retry-delay 5 \
    --connect-timeout 10 --max-time 300 --output "$2" "$1"
}

post() { # url file
  gzip -c "$2" > "$2.gz"
  curl --silent --show-error --fail-with-body --retry 3 --retry-delay 5 \
    --connect-timeout 10 --max-time 300 --output "$2.answer" \
    -H "Authorization: Bearer $XPLORR_INGEST_TOKEN" \
    -H "Content-Type: application/json" \
    -H "Content-Encoding: gzip" \
    --data-binary "@$2.gz" "$1" || { cat "$2.answer" >&2 2>/dev/null; echo >&2; return 1; }
  cat "$2.answer"
  echo
}

utc() { # epoch seconds -> format
  date -u -d "@$1" "+$2"
}

allocation="$OPENCOST_URL/allocation?window=${WINDOW_DAYS}d&aggregate=namespace,controllerKind,controller,pod&step=1d&accumulate=false&includeIdle=true&shareIdle=false"
echo "xplorr-collector: allocations of the last $WINDOW_DAYS days"
fetch "$allocation" "$work/allocation.json"
post "$XPLORR_INGEST_URL" "$work/allocation.json"

now="$(date -u +%s)"
today=$((now / 86400 * 86400))
i=$((WINDOW_DAYS - 1))
while [ "$i" -ge 0 ]; do
  start=$((today - i * 86400))
  stop=$((start + 86400))
  [ "$stop" -gt "$now" ] && stop="$now"
  day="$(utc "$start" %Y-%m-%d)"
  window="$(utc "$start" %Y-%m-%dT%H:%M:%SZ),$(utc "$stop" %Y-%m-%dT%H:%M:%SZ)"
  if fetch "$OPENCOST_URL/assets?window=$window" "$work/assets-$day.json"; then
    post "$XPLORR_INGEST_URL/assets?date=$day" "$work/assets-$day.json" \
      || echo "xplorr-collector: the assets of $day were not accepted (allocations were)" >&2
  else
    echo "xplorr-collector: OpenCost /assets failed for $day (an OpenCost without the Assets" \
      "API still yields namespace, controller and pod cost)" >&2
  fi
  i=$((i - 1))
done

[ -n "${PROMETHEUS_URL:-}" ] || exit 0
PROMETHEUS_URL="${PROMETHEUS_URL%/}"
sel='container!="",container!="POD"'
cpu="sum by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{$sel}[5m]))"
mem="sum by (namespace,pod,container) (container_memory_working_set_bytes{$sel})"
spec() { # resource kind -> the day's highest request or limit per container
  echo "max_over_time(sum by (namespace,pod,container) (kube_pod_container_resource_$2{resource=\"$1\"})[1d:5m])"
}
query() { # metric -> PromQL
  case "$1" in
    cpu_p50) echo "quantile_over_time(0.5, ($cpu)[1d:5m])" ;;
    cpu_p95) echo "quantile_over_time(0.95, ($cpu)[1d:5m])" ;;
    cpu_max) echo "max_over_time(($cpu)[1d:5m])" ;;
    memory_p95) echo "quantile_over_time(0.95, ($mem)[1d:5m])" ;;
    memory_max) echo "max_over_time(($mem)[1d:5m])" ;;
    cpu_request) spec cpu requests ;;
    cpu_limit) spec cpu limits ;;
    memory_request) spec memory requests ;;
    memory_limit) spec memory limits ;;
  esac
}
i=$((WINDOW_DAYS - 1))
while [ "$i" -ge 0 ]; do
  start=$((today - i * 86400))
  stop=$((start + 86400))
  [ "$stop" -gt "$now" ] && stop="$now"
  day="$(utc "$start" %Y-%m-%d)"
  for metric in cpu_p50 cpu_p95 cpu_max memory_p95 memory_max cpu_request cpu_limit \
    memory_request memory_limit; do
    out="$work/usage-$day-$metric.json"
    if curl --silent --show-error --fail-with-body --retry 3 --retry-delay 5 \
      --connect-timeout 10 --max-time 300 --output "$out" --get \
      --data-urlencode "query=$(query "$metric")" --data-urlencode "time=$stop" \
      "$PROMETHEUS_URL/api/v1/query"; then
      post "$XPLORR_INGEST_URL/usage?date=$day&metric=$metric" "$out" > /dev/null \
        || echo "xplorr-collector: $metric of $day was not accepted" >&2
    else
      echo "xplorr-collector: Prometheus query $metric failed for $day" >&2
    fi
  done
  i=$((i - 1))
done
