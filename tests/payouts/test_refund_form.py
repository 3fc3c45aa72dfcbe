"""The admin's refund form: an amount typed in major units; a word or too much money comes back
on the form by the field, in the currency, with what was typed kept (a word was a 500)."""

from __future__ import annotations

from tests.helpers import make_admin, register
from tests.payouts.flow import Env, paid_booking
from tests.test_form_pages import Page, _csrf, _log_in


def test_a_refused_refund_comes_back_on_the_form_by_its_field(demo_env: Env) -> None:
    client = demo_env.client
    _, payment, _, _, _ = paid_booking(demo_env)
    admin = register(client, "student")
    make_admin(client, admin["id"])
    _log_in(client, admin["email"])
    action = f"/admin/payments/{payment['id']}/refund"

    for typed, status, words in (("twelve", 422, "12.50"), ("9999", 422, "€")):
        answer = client.post(
            action,
            data={
                "_csrf_token": _csrf(client, "/admin/payments"),
                "amount": typed,
                "reason": "Late",
            },
        )
        assert answer.status_code == status, answer.text[:500]
        assert answer.headers["content-type"].startswith("text/html")
        page = Page(answer.text)
        problem = page.texts["amount-error"]
        assert words in problem and "minor" not in problem and "_" not in problem, problem
        assert "#amount-error" in page.summary_links
        [form] = [f for f in page.forms if f.action == action]
        [amount] = form.named("amount")
        assert amount.attrs["aria-invalid"] == "true" and amount.value == typed
        assert form.named("reason")[0].value == "Late"
