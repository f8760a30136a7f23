"""ATT&CK techniques through the signed-HTTP path: refused with suggestions, shown by name."""

from __future__ import annotations

from tests.harness import CISO, RunningAccord

NEW = "risk new Legacy VPN likelihood:3 impact:4 expires:2027-01-31"


def test_unknown_and_revoked_ids_are_refused_and_names_are_shown(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    unknown = accord.command_text(f"{NEW} attack:T1078,T1999", user=CISO)
    assert "`T1999` is not a technique in ATT&amp;CK Enterprise v18.1" in unknown
    assert "Closest: `T1" in unknown
    revoked = accord.command_text(f"{NEW} attack:T1002", user=CISO)
    assert "is revoked" in revoked and "Use `T1560` Archive Collected Data instead" in revoked
    created = accord.command_text(f"{NEW} attack:T1078.004,T1566", user=CISO)
    assert "Requested *RSK-1*" in created
    shown = accord.command_text("risk show RSK-1", user=CISO)
    assert "`T1078.004` Cloud Accounts (Defense Evasion, Persistence" in shown
    assert "`T1566` Phishing (Initial Access)" in shown
    listed = accord.command_text("risk list open", user=CISO)
    assert "ATT&amp;CK: `T1078.004` Cloud Accounts, `T1566` Phishing" in listed
