#!/usr/bin/env bash
# Submit a case with kcat alone, then wait for its answer (CaseOpened or CaseRejected) on the firm's outbound topic,
# matched to the command by correlationid. Prints the answer as "<Kafka key><TAB><CloudEvent JSON>".
#   KAFKA_BOOTSTRAP_SERVERS=host:port FIRM_ID=harbor-law docs/examples/submit_with_kcat.sh case.json
# A secured cluster: KCAT_CONFIG=firm.properties with librdkafka's names (security.protocol=SASL_SSL,
# sasl.mechanisms=SCRAM-SHA-512, sasl.username=firm-<id>, sasl.password=..., ssl.ca.location=ca.pem); SCRAM with
# Kafka 4 brokers needs kcat on librdkafka 2.6.1 or later (`kcat -V`).
# COMMAND_ID=<the id sent before> sends the same command again (a retry: it changes nothing).
set -euo pipefail
: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}" "${FIRM_ID:?set FIRM_ID}"
case_file=${1:?usage: submit_with_kcat.sh case.json (the SubmitCase data)}
id=${COMMAND_ID:-$(cat /proc/sys/kernel/random/uuid)}
ref=$(grep -o '"external_ref" *: *"[^"]*"' "$case_file" | head -1 | sed 's/.*"\([^"]*\)"$/\1/')
[ -n "$ref" ] || { echo "$case_file has no external_ref" >&2; exit 2; }
since=$(( $(date +%s%3N) - 5000 ))   # outbound records from a little before now (clocks differ)

printf '{"specversion":"1.0","id":"%s","type":"mednet.SubmitCase.v1","source":"/firms/%s","subject":"%s",%s,%s}\n' \
    "$id" "$FIRM_ID" "$ref" "\"time\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"datacontenttype\":\"application/json\"" \
    "\"data\":$(tr -d '\r\n' < "$case_file")" |
    kcat -P -b "$KAFKA_BOOTSTRAP_SERVERS" -t "mednet.firm.$FIRM_ID.inbound" -k "$ref" \
        -H content-type=application/cloudevents+json
echo "sent SubmitCase $id for $ref" >&2

deadline=$(( SECONDS + ${WAIT_SECONDS:-60} ))
while (( SECONDS < deadline )); do
    answer=$(kcat -C -q -e -b "$KAFKA_BOOTSTRAP_SERVERS" -t "mednet.firm.$FIRM_ID.outbound" -o "s@$since" \
                 -f '%k\t%s\n' | grep -E "\"correlationid\": ?\"$id\"" |
             grep -E '"type": ?"mednet\.Case(Opened|Rejected)\.v1"' | head -1) || true
    if [ -n "$answer" ]; then
        echo "$answer"
        grep -qE '"type": ?"mednet\.CaseOpened\.v1"' <<<"$answer"   # exit 1 on CaseRejected (its reasons printed)
        exit
    fi
    sleep 1
done
echo "no answer to $id on mednet.firm.$FIRM_ID.outbound within ${WAIT_SECONDS:-60}s" >&2
exit 1
