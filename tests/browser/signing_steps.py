"""Signing a report in the browser as its people do: the leader with the stand-in signing tool
playing the USB token (the page gives the data to sign, the tool signs it, the value goes back),
the clerk by downloading the issued PDF, signing it with the tool and uploading it. The demo
keeps the showcase communes' stand-in keys in the server's instance folder."""

from __future__ import annotations

import base64
from pathlib import Path

from app.demo import DEMO_PASSWORD
from app.demo_signing import key_folder
from app.signing.standin import sign_digest, sign_pdf


def _stage(page, stage: str):
    return page.locator(f'.sign-stage[data-stage="{stage}"]')


def sign_as_leader(page, signing_url: str, instance: Path, username: str) -> None:
    keys = key_folder(instance)
    page.goto(signing_url)
    page.locator('#sign-prepare-form input[name="certificate_file"]').set_input_files(
        str(keys / f"{username}.pem"))
    page.locator("#sign-prepare-form [type=submit]").click()
    page.wait_for_load_state()
    data = page.locator("#data-to-sign").input_value().strip()
    value = sign_digest((keys / f"{username}.p12").read_bytes(), DEMO_PASSWORD,
                        base64.b64decode(data))
    page.locator('#sign-finish-form textarea[name="signature"]').fill(
        base64.b64encode(value).decode())
    page.locator("#sign-finish-form [type=submit]").click()
    page.wait_for_load_state()
    assert _stage(page, "leader").get_attribute("data-status") == "signed", \
        page.locator("body").inner_text()[:2000]


def sign_as_agency(page, signing_url: str, instance: Path, unit_code: str,
                   tmp_path: Path) -> None:
    keys = key_folder(instance)
    page.goto(signing_url)
    link = page.locator('a.sign-issued[data-stage="agency"]')
    issued = page.request.get(link.get_attribute("href"))
    assert issued.ok and issued.body().startswith(b"%PDF")
    signed = sign_pdf((keys / f"{unit_code}.p12").read_bytes(), DEMO_PASSWORD, issued.body(),
                      "ChuKyCoQuan")
    path = tmp_path / "signed-by-agency.pdf"
    path.write_bytes(signed)
    page.locator('#sign-upload-form input[name="file"]').set_input_files(str(path))
    page.locator("#sign-upload-form [type=submit]").click()
    page.wait_for_load_state()
    assert _stage(page, "agency").get_attribute("data-status") == "signed", \
        page.locator("body").inner_text()[:2000]
