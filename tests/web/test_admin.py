"""The admin page and the support thread through AppTest: the real frame and pages, in-process."""

from __future__ import annotations

import re

from sqlmodel import select

from core.i18n import translate
from core.models import OutboxMessage, Role, SupportTicket
from tests.utils.builders import create_random_user
from tests.web.conftest import app, texts


def _admin_tab(token: str, tab: str, lang: str | None = None):  # type: ignore[no-untyped-def]
    at = app(token, script="pages/admin.py", lang=lang)
    at.session_state["admin_tab"] = tab
    return at.run()


def _all_text(at) -> str:  # type: ignore[no-untyped-def]
    return texts(at) + "\n" + "\n".join(str(t.value) for t in at.get("text")) + "\n" + "\n".join(
        str(e.label) for e in at.expander)


def test_ticket_reaches_the_admin_reply_reaches_the_user_and_the_answer_comes_back(web_db, web_session, login):
    user = create_random_user(web_session)
    admin = create_random_user(web_session, role=Role.ADMIN)
    user_token, admin_token = login(user), login(admin)

    at = app(user_token).run()
    at.switch_page("pages/support.py").run()
    at.text_input(key="support_subject").input("My vase is *lopsided*")
    at.text_area(key="support_body").input("It leans to the left.")
    at.button(key="FormSubmitter:support_form-Send").click().run()
    assert not at.exception
    ticket = web_session.exec(select(SupportTicket)).one()

    at = _admin_tab(admin_token, "Support")
    assert not at.exception
    assert at.dataframe[0].value["Subject"].tolist() == ["My vase is *lopsided*"]
    assert "It leans to the left." in _all_text(at)
    at.text_area(key=f"admin_reply_body_{ticket.id}").input("Try carve mode with four views.")
    at.button(key=f"FormSubmitter:admin_reply_{ticket.id}-Send reply").click().run()
    # No SMTP_HOST here: the notice says where the mail is, never that it was sent.
    notice = " ".join(str(e.value) for e in at.success)
    assert not at.exception and "its mail waits in the outbox" in notice and " sent" not in notice
    mail = web_session.exec(select(OutboxMessage).where(OutboxMessage.kind == "support_reply")).one()
    assert mail.to_address == user.email and "Try carve mode with four views." in mail.body

    at = app(user_token).run()
    at.switch_page("pages/support.py").run()
    assert not at.exception
    shown = _all_text(at)
    assert "Try carve mode with four views." in shown
    assert "My vase is \\*lopsided\\*" in shown  # typed text stays literal in the thread's title
    at.text_area(key=f"support_answer_body_{ticket.id}").input("Thanks, that worked!")
    at.button(key=f"FormSubmitter:support_answer_{ticket.id}-Send answer").click().run()
    assert not at.exception and "Your answer was added to the ticket." in texts(at)

    at = _admin_tab(admin_token, "Support")
    assert "Thanks, that worked!" in _all_text(at)
    at.button(key=f"FormSubmitter:admin_reply_{ticket.id}-Close ticket").click().run()
    assert not at.exception and "Ticket closed." in texts(at)
    web_session.expire_all()
    assert web_session.get(SupportTicket, ticket.id).status == "closed"


def test_privacy_requests_show_due_dates_and_the_outcome_reaches_my_data(web_db, web_session, login):
    from datetime import timedelta

    from core.models import utcnow
    from core.support import tickets
    from pages.common import i18n

    user = create_random_user(web_session)
    admin = create_random_user(web_session, role=Role.ADMIN)
    late = tickets.create_privacy_request(web_session, user=user, kind="objection", now=utcnow() - timedelta(days=35))
    web_session.commit()
    at = _admin_tab(login(admin), "Privacy")
    assert not at.exception
    table = at.dataframe[0].value
    assert table["Due"].tolist() == [i18n.format_date(late.due_at, "en")]
    assert table["Deadline"].tolist()[0].startswith("⚠ overdue by")
    assert "1 request is past its legal deadline." in texts(at)
    at.text_area(key="admin_privacy_note").input("We stopped the processing you objected to.")
    at.button(key="FormSubmitter:admin_privacy_resolve-Resolve").click().run()
    assert not at.exception and "The request is resolved" in texts(at)

    at = app(login(user), lang="nl")
    at.run()
    at.switch_page("pages/my_data.py").run()
    assert not at.exception
    requests_table = next(d.value for d in at.dataframe if "Uitkomst" in d.value.columns)
    assert requests_table["Uitkomst"].tolist() == ["We stopped the processing you objected to."]


def test_role_plan_and_requeue_from_the_page_leave_audit_rows(web_db, web_session, login):
    from core.models import AuditLog, GenerationJob, JobStatus

    user = create_random_user(web_session)
    admin = create_random_user(web_session, role=Role.ADMIN)
    token = login(admin)
    job = GenerationJob(user_id=user.id, status=JobStatus.FAILED, error_code="no_foreground")
    web_session.add(job)
    web_session.commit()

    at = _admin_tab(token, "Users")
    at.text_input(key="admin_user_query").input(user.email).run()
    assert user.email in _all_text(at)
    at.selectbox(key="admin_user_plan_value").select("premium")
    at.button(key="FormSubmitter:admin_user_plan-Change plan").click().run()
    assert "Please type a reason" in texts(at)  # no reason, no change
    at.text_input(key="admin_user_plan_reason").input("goodwill")
    at.button(key="FormSubmitter:admin_user_plan-Change plan").click().run()
    assert not at.exception and "The plan was changed." in texts(at)
    at.selectbox(key="admin_user_role_value").select("admin")
    at.text_input(key="admin_user_role_reason").input("joins support")
    at.button(key="FormSubmitter:admin_user_role-Change role").click().run()
    assert not at.exception and "The role was changed." in texts(at)

    at = _admin_tab(token, "Jobs")
    at.text_input(key="admin_requeue_reason").input("engine fixed")
    at.button(key="FormSubmitter:admin_requeue-Requeue").click().run()
    assert not at.exception and f"Job #{job.id} is queued again." in texts(at)

    rows = web_session.exec(select(AuditLog).where(AuditLog.actor == f"admin:{admin.id}")
                            .order_by(AuditLog.id)).all()
    assert [(r.action, r.user_id, r.details["reason"]) for r in rows] == [
        ("admin.plan_changed", user.id, "goodwill"), ("admin.role_changed", user.id, "joins support"),
        ("job.requeued", user.id, "engine fixed")]
    at = _admin_tab(token, "Audit log")
    at.text_input(key="admin_audit_actor").input(f"admin:{admin.id}").run()
    assert not at.exception
    assert at.dataframe[0].value["Action"].tolist() == ["job.requeued", "admin.role_changed", "admin.plan_changed"]


def test_every_tab_renders_with_demo_data_in_both_languages(web_db, web_session, login):
    import streamlit as st

    from core.admin import demo

    st.cache_data.clear()  # the Jobs tab caches its figures per database and period for a minute
    demo.seed(web_session, users=30, jobs=300, models=60)
    token = login(create_random_user(web_session, role=Role.ADMIN))
    for lang, tabs in (("en", ("Overview", "Jobs", "Support", "Privacy", "Users", "Audit log")),
                       ("nl", ("Overzicht", "Taken", "Ondersteuning", "Privacy", "Gebruikers", "Auditlogboek"))):
        for tab in tabs:
            for period in ("24h", "30d"):
                at = app(token, script="pages/admin.py", lang=lang)
                at.session_state["admin_tab"] = tab
                at.session_state["admin_period"] = period
                at.run()
                assert not at.exception, (lang, tab, period, at.exception)
    at = _admin_tab(token, "Jobs", lang="en")  # the account speaks Dutch now: the last run chose it
    assert at.get("vega_lite_chart") and at.get("deck_gl_json_chart")
    assert "Most frequent failures" in texts(at)


def _charts(at) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """The page's Altair charts by their element id's key part, as the Vega-Lite specs the browser gets."""
    import json

    return {json.loads(c.proto.spec).get("title", {}).get("text", ""): json.loads(c.proto.spec)
            for c in at.get("vega_lite_chart")}


def _chart_rows(at, title: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The rows a chart draws (Streamlit sends them beside the spec, as Arrow)."""
    import json

    import pyarrow as pa

    [chart] = [c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec).get("title", {}).get("text") == title]
    return pa.ipc.open_stream(chart.proto.data.data).read_all().to_pylist()


def test_admin_charts_count_in_whole_numbers_with_titles_that_fit(web_db, web_session, login):
    from core.admin import demo

    admin = create_random_user(web_session, role=Role.ADMIN)
    demo.seed(web_session, users=12, jobs=40, models=10)
    for lang, deleted, tickets in (("en", "Models and uploads deleted", "Open tickets"),
                                   ("nl", "Verwijderde modellen en uploads", "Open tickets")):
        at = _admin_tab(login(admin), "Overview", lang=lang)
        assert not at.exception
        charts = _charts(at)
        assert deleted in charts and tickets in charts, sorted(charts)
        for title, spec in charts.items():
            y = spec["encoding"]["y"]
            # The count's title stands above the chart in full; a vertical axis title was cut at the chart's height.
            assert y.get("title") is None and spec["title"]["limit"] == 0, title
            assert (y["axis"]["format"], y["axis"]["tickMinStep"]) == ("d", 1), title  # 0, 1, 2: no 0.5, no 0.000000
            assert spec["encoding"]["x"]["axis"]["labelAngle"] == 0, title
        days = [row["t"] for row in _chart_rows(at, translate("New accounts", lang))]
        assert len(days) == len(set(days)) == 8  # every day of the 7-day period, a quiet one as 0 rather than a gap
        labels = [row["t"] for row in _chart_rows(at, deleted)]
        assert all(re.fullmatch(r"\d{1,2} \w{3}\.?", t) for t in labels), labels  # "30 nov", not "30/11/2026, 23:11"


def test_admin_overview_on_a_fresh_install_says_there_is_nothing_instead_of_empty_tables(web_db, web_session, login):
    admin = create_random_user(web_session, role=Role.ADMIN)
    for lang in ("en", "nl"):
        at = _admin_tab(login(admin), "Overview", lang=lang)
        assert not at.exception
        assert [len(d.value) for d in at.dataframe if len(d.value) == 0] == []  # no table that reads "empty"
        # One chart: the admin's own new account; none of zeros (tickets by age, purges).
        assert list(_charts(at)) == [translate("New accounts", lang)]
        shown = texts(at)
        for message in ("Nothing is stored yet: no uploads and no models.", "No open tickets."):
            assert translate(message, lang) in shown


def test_admin_overview_shows_what_each_worker_takes_and_the_jobs_no_live_worker_takes(web_db, web_session, login):
    from core.jobs import fleet, queue

    admin = create_random_user(web_session, role=Role.ADMIN)
    fleet.heartbeat(web_session, worker_id="gpu-1:10:aaaaaa", hostname="gpu-1", device="cuda", modes="carve,large",
                    concurrency=2)
    fleet.heartbeat(web_session, worker_id="cpu-1:11:bbbbbb", hostname="cpu-1", device="cpu", modes="inflate")
    user = create_random_user(web_session)
    for mode in ("relief", "relief", "inflate"):
        queue.insert_job(web_session, user_id=int(user.id or 0), upload_ids=[1], mode=mode)
    web_session.commit()
    at = _admin_tab(login(admin), "Overview", lang="en")
    assert not at.exception
    table = next(d.value for d in at.dataframe if "Takes" in d.value.columns)
    rows = {r["Host"]: (r["Takes"], r["Device"], r["Concurrency"], r["Running"]) for r in table.to_dict("records")}
    assert rows == {"gpu-1": ("carve, large jobs", "cuda", "2", "0"), "cpu-1": ("inflate", "cpu", "1", "0")}
    assert ("2 queued jobs are of a kind no live worker takes (relief); they wait until a worker started with "
            "`--modes relief` takes them.") in texts(at)
