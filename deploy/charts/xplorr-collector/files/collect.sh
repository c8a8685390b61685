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
