"""Notes verifies a side's signed link with scheduling's link keys, and does not start without them."""

import pytest

from mednet_notes.app import build
from mednet_notes.config import Settings
from services_harness import TEST_LINK_KEYS, TEST_NOTES_KEY, jwt_settings


def test_notes_does_not_start_without_the_link_keys():
    with pytest.raises(ValueError, match="MEDNET_NOTES_LINK_KEYS is not set"):
        build(Settings(encryption_key=TEST_NOTES_KEY, **jwt_settings()))
    with pytest.raises(ValueError, match="shorter than 32"):
        Settings(encryption_key=TEST_NOTES_KEY, link_keys='{"l1": "short"}', link_active_kid="l1",
                 **jwt_settings()).link_keyset()
    with pytest.raises(ValueError, match="active key id"):
        Settings(encryption_key=TEST_NOTES_KEY, link_keys=TEST_LINK_KEYS, link_active_kid="l2",
                 **jwt_settings()).link_keyset()


def test_with_them_its_side_routes_are_the_only_public_ones_it_adds():
    from mednet_shared.platform.http import PUBLIC_API_PATHS

    app = build(Settings(encryption_key=TEST_NOTES_KEY, link_keys=TEST_LINK_KEYS, link_active_kid="l1",
                         **jwt_settings()))
    sides = {path for path in app.openapi()["paths"] if path.startswith("/v1/side")}
    assert sides == {"/v1/side/preparation", "/v1/side/statement", "/v1/side/readiness"} <= PUBLIC_API_PATHS
