import json
import logging

from mednet_shared.platform.logs import JsonFormatter, current_event


def test_json_log_lines_carry_the_events_correlation_and_causation():
    record = logging.LogRecord("mednet.test", logging.INFO, __file__, 1, "placed %s", ("call-1",), None)
    token = current_event.set({"event_id": "e-2", "correlation_id": "c-1", "causation_id": "e-1"})
    try:
        line = json.loads(JsonFormatter("scheduling").format(record))
    finally:
        current_event.reset(token)
    assert line["message"] == "placed call-1" and line["service"] == "scheduling" and line["level"] == "INFO"
    assert (line["correlation_id"], line["causation_id"], line["event_id"]) == ("c-1", "e-1", "e-2")
    assert "correlation_id" not in json.loads(JsonFormatter("scheduling").format(record))
