"""Delinea's own Python SDK (python-tss-sdk) against the Secret Server emulator, as an outside client.

Run by scripts/tss-sdk.sh, which starts the emulator and passes its addresses and credentials in the
environment. Signs in three ways (the password grant, a pre-issued API token, the emulated Delinea
Platform's client credentials with its vault broker), then reads folders, looks them up and searches
secrets, as a real integration would. Any failure raises, and the script exits non-zero.
"""

import json
import os
import sys

from delinea.secrets.server import (
    AccessTokenAuthorizer,
    PasswordGrantAuthorizer,
    SecretServer,
    SecretServerError,
)

BASE = os.environ["TSS_BASE_URL"]
PLATFORM = os.environ["TSS_PLATFORM_URL"]


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"tss-sdk: ok: {what}")


def reads(server, how):
    folders = json.loads(server.lookup_folders({"take": 100}))
    names = {record["value"] for record in folders["records"]}
    check("IT" in names and "Databases" in names, f"{how}: folders are looked up ({len(names)} seen)")
    check(
        not any(name == "Personal Folders" for name in names),
        f"{how}: nobody's personal folder is visible to the API account",
    )
    it = server.get_folder_by_path("\\IT")
    check(it["folderName"] == "IT", f"{how}: the folder \\IT is read by its path")
    child_ids = server.get_child_folder_ids_by_folderid(it["id"])
    check(len(child_ids) >= 2, f"{how}: its child folders are listed ({len(child_ids)})")
    found = json.loads(server.search_secrets({"filter.searchText": "sql-prod"}))
    check(found["total"] >= 1, f"{how}: secrets are searched ({found['total']} found)")


def main():
    password = PasswordGrantAuthorizer(BASE, os.environ["TSS_USERNAME"], os.environ["TSS_PASSWORD"])
    reads(SecretServer(BASE, password), "password grant")

    token = AccessTokenAuthorizer(os.environ["TSS_API_TOKEN"], BASE)
    reads(SecretServer(BASE, token), "pre-issued API token")

    platform = PasswordGrantAuthorizer(PLATFORM, os.environ["TSS_CLIENT_ID"], os.environ["TSS_CLIENT_SECRET"])
    server = SecretServer(PLATFORM, platform)
    reads(server, "Delinea Platform client credentials")
    check(server.base_url == BASE, "the vault broker named the emulator as the default vault")

    wrong = PasswordGrantAuthorizer(BASE, os.environ["TSS_USERNAME"], "not-the-password")
    try:
        SecretServer(BASE, wrong).lookup_folders()
    except SecretServerError:
        check(True, "a wrong password is refused")
    else:
        raise AssertionError("a wrong password was accepted")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - any failure fails the run
        print(f"tss-sdk: FAILED: {error!r}", file=sys.stderr)
        sys.exit(1)
