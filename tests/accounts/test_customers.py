"""Staff manage customers; every change leaves an audit row."""

from __future__ import annotations

from ops.models import AuditEvent


def test_it_creates_a_customer_and_audits_it(client, support):
    client.force_login(support)
    response = client.post(
        "/staff/customers/new/", {"name": "Carol Crawl", "contact_email": "carol@example.com", "status": "active"}
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="customer.create")
    assert event.actor == support
    assert event.customer.name == "Carol Crawl"


def test_it_shows_form_errors_for_bad_input(client, support):
    client.force_login(support)
    response = client.post("/staff/customers/new/", {"name": "", "contact_email": "not-an-email", "status": "active"})
    assert response.status_code == 200
    assert b"Enter a valid email address." in response.content
    assert b"This field is required." in response.content
    assert not AuditEvent.objects.exists()


def test_it_suspends_a_customer(client, support, customer_a):
    client.force_login(support)
    response = client.post(
        f"/staff/customers/{customer_a.pk}/edit/",
        {"name": customer_a.name, "contact_email": customer_a.contact_email, "status": "suspended", "notes": "unpaid"},
    )
    assert response.status_code == 302
    customer_a.refresh_from_db()
    assert customer_a.status == "suspended"
    assert AuditEvent.objects.get(action="customer.update").data["status"] == "suspended"


def test_it_searches_customers_and_answers_htmx_with_rows_only(client, support, customer_a, customer_b):
    client.force_login(support)
    page = client.get("/staff/customers/?q=alice")
    assert b"Alice Analytics" in page.content
    assert b"Bob&#x27;s Sneaker" not in page.content
    fragment = client.get("/staff/customers/?q=bob", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.content
    assert b"Bob&#x27;s Sneaker Bots" in fragment.content


def test_it_answers_404_for_an_unknown_customer(client, support):
    client.force_login(support)
    assert client.get("/staff/customers/999999/").status_code == 404


def test_it_adds_a_login_and_emails_an_invitation(
    client, support, customer_a, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(support)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/staff/customers/{customer_a.pk}/logins/", {"username": "carol", "email": "carol@example.com"}
        )
    assert response.status_code == 302
    login = customer_a.users.get(username="carol")
    assert not login.has_usable_password()
    assert login.role == "customer"
    assert len(mailoutbox) == 1
    link = next(line for line in mailoutbox[0].body.splitlines() if "/accounts/reset/" in line)
    client.logout()
    form_page = client.get(link.split("testserver", 1)[1], follow=True)
    client.post(
        form_page.redirect_chain[-1][0], {"new_password1": "carols-pass-2468", "new_password2": "carols-pass-2468"}
    )
    login.refresh_from_db()
    assert login.check_password("carols-pass-2468")
    assert AuditEvent.objects.filter(action="customer.login_create", customer=customer_a).exists()


def test_it_refuses_a_taken_username(client, support, customer_a, alice, mailoutbox):
    client.force_login(support)
    response = client.post(f"/staff/customers/{customer_a.pk}/logins/", {"username": "ALICE", "email": "x@example.com"})
    assert response.status_code == 400
    assert b"That username is taken." in response.content
    assert not mailoutbox


def test_it_pages_the_customer_list(client, support, db):
    from accounts.models import Customer

    Customer.objects.bulk_create(Customer(name=f"C{n:03d}", contact_email=f"c{n}@example.com") for n in range(120))
    client.force_login(support)
    first = client.get("/staff/customers/")
    assert b"C000" in first.content
    assert b"C050" not in first.content
    assert b"120 customers" in first.content
    second = client.get("/staff/customers/", {"after": first.context["page"].next_cursor})
    last = client.get("/staff/customers/", {"after": second.context["page"].next_cursor})
    assert b"C050" in second.content
    assert b"C119" in last.content
    assert not last.context["page"].has_next
    assert client.get("/staff/customers/?after=not-a-cursor").status_code == 200


def test_the_customer_page_has_a_clean_title_and_the_login_form(client, support, customer_a):
    client.force_login(support)
    page = client.get(f"/staff/customers/{customer_a.pk}/").content.decode()
    assert "<title>Alice Analytics Ltd · Proxy Reseller</title>" in page
    assert page.index("<title>") < page.index("</title>") < page.index("Add a login")
    assert page.count("Add a login") == 1
