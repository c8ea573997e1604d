"""CSV import of subscribers: mapping, line errors, batches, updates, events, query counts."""

import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.automations.models import Run
from apps.crm import event_types
from apps.crm.imports import parsing, services
from apps.crm.models import (
    Event,
    ImportStatus,
    Subscriber,
    SubscriberFieldValue,
    SubscriberImport,
    SubscriberState,
)
from apps.crm.services import custom_field_create, subscriber_fields_set, subscriber_unsubscribe
from apps.tags.event_types import TAG_ADD
from apps.tags.models import Tag, Tagging
from tests.automations.helpers import add, build, on_tag, settle, tag, tags_of
from tests.crm.admin.test_admin import _queries as page_queries
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def imported(data: bytes, *, tags=()) -> SubscriberImport:
    """Upload with the guessed mapping, start and run: what the admin and a worker do."""
    imp = services.subscriber_import_create(data=data, filename="list.csv", tags=tags)
    services.subscriber_import_start(subscriber_import=imp, enqueue=False)
    return services.subscriber_import_run(import_id=imp.pk)


@pytest.fixture
def city():
    return custom_field_create(label="City")


# Mapping ----------------------------------------------------------------------------------


def test_the_mapping_is_guessed_from_the_header(city):
    imp = services.subscriber_import_create(
        data=csv_bytes(
            "E-mail Address;First Name;CITY;Tags;Email;Notes", "a@example.com;Ann;Oslo;VIP;;x"
        ),
        filename="kit-export.csv",
    )

    assert imp.header == ["E-mail Address", "First Name", "CITY", "Tags", "Email", "Notes"]
    assert imp.mapping == ["email", "first_name", "field:city", "tags", "ignore", "ignore"]


def test_a_custom_field_is_guessed_by_its_label_as_well_as_its_key():
    custom_field_create(label="Favourite colour")

    guessed = services.import_mapping_guess(
        header=["email", "favourite_colour", "Favourite Colour"]
    )

    assert guessed == ["email", "field:favourite_colour", "ignore"]


def test_a_column_mapped_to_an_unknown_field_is_refused_on_line_1():
    imp = services.subscriber_import_create(
        data=csv_bytes("email,Shoe size", "a@example.com,42"), filename="x.csv"
    )
    imp = services.subscriber_import_map(
        subscriber_import=imp, mapping=["email", "field:shoe_size"]
    )

    with pytest.raises(ValidationError) as refused:
        services.subscriber_import_start(subscriber_import=imp, enqueue=False)

    assert refused.value.messages == [
        "line 1: column 'Shoe size' is mapped to the custom field 'shoe_size', which does not "
        "exist. Create it under Custom fields, or map the column to another target or to Ignore."
    ]
    assert not Subscriber.objects.exists()


def test_a_mapping_without_an_email_column_is_refused():
    imp = services.subscriber_import_create(
        data=csv_bytes("email,name", "a@example.com,Ann"), filename="x.csv"
    )
    imp = services.subscriber_import_map(subscriber_import=imp, mapping=["ignore", "first_name"])

    with pytest.raises(ValidationError, match="no column is mapped to the email address"):
        services.subscriber_import_start(subscriber_import=imp, enqueue=False)


# Files that cannot be read -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("email,name\né@example.com,Zoë\n".encode("latin-1"), "is not UTF-8 text (byte 0xe9"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "This is not a CSV file (it holds binary data)"),
        (b"   \n\n", "The file is empty."),
        (b"Dear friends\nhere is my list\n", "The first line should name the columns"),
        (b"email,name\n", "The file names its columns but has no line of data below them."),
        (b'email,name\na@example.com,"Ann\nBob\n', "The file is not valid CSV: line 2: unexpected"),
    ],
)
def test_a_file_that_is_not_utf8_csv_is_refused_saying_why(data, message):
    with pytest.raises(ValidationError) as refused:
        imp = services.subscriber_import_create(data=data, filename="x.csv")
        services.import_check(subscriber_import=imp)

    assert message in refused.value.messages[0]


def test_a_file_over_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(parsing, "IMPORT_FILE_MAX_BYTES", 1024 * 1024)

    with pytest.raises(ValidationError, match=r"The file is 1\.1 MB; at most 1 MB"):
        services.subscriber_import_create(data=b"email\n" + b"a" * 1_150_000, filename="x.csv")


# Line errors ------------------------------------------------------------------------------


def test_each_bad_line_is_reported_by_its_number_with_what_is_wrong(city):
    long_name, long_tag, long_city = "N" * 256, "T" * 256, "C" * 10_001
    data = csv_bytes(
        "email,first_name,city,tags",  # 1
        "ann@example.com,Ann,Oslo,VIP",  # 2
        "not-an-email,Bob,,",  # 3
        "ANN@example.com,Ann again,,",  # 4: the same address as line 2
        f"cy@example.com,{long_name},,",  # 5
        "dee@example.com,Dee,Rome,,surplus",  # 6: a value in no column
        f"eve@example.com,Eve,,{long_tag}",  # 7
        'fay@example.com,"Fay',  # 8: a quoted value over two lines
        'Smith",Paris,',  # 9
        ",Nobody,,",  # 10
        f"gus@example.com,Gus,{long_city},",  # 11
        "",  # 12: blank, skipped
        "hal@example.com,Hal,,A;B",  # 13
    )

    imp = imported(data)

    assert imp.errors == [
        [3, "line 3: 'not-an-email' is not a valid email address."],
        [4, "line 4: ann@example.com is already on line 2; only that line is imported."],
        [5, "line 5: the first name is 256 characters long; at most 255 are allowed."],
        [
            6,
            "line 6: it has 5 values but the header names 4 columns; 'surplus' belongs to no "
            "field.",
        ],
        [7, f"line 7: tag '{long_tag[:40]}': A tag name can be at most 255 characters."],
        [10, "line 10: an email address is required."],
        [
            11,
            "line 11: the value in column 'city' is 10001 characters long; at most 10000 are "
            "allowed.",
        ],
    ]
    assert (imp.rows_total, imp.rows_valid, imp.error_count) == (10, 3, 7)
    assert set(Subscriber.objects.values_list("email", flat=True)) == {
        "ann@example.com",
        "fay@example.com",
        "hal@example.com",
    }
    assert Subscriber.objects.get(email="fay@example.com").first_name == "Fay\nSmith"


# Batches ----------------------------------------------------------------------------------


def test_a_failing_batch_writes_nothing_and_the_batches_around_it_are_imported(monkeypatch, city):
    # given: batches of 3 rows, and a database error in the middle of the second batch
    monkeypatch.setattr(services, "IMPORT_BATCH_SIZE", 3)
    calls = []
    real_fields_set = services.subscribers_fields_set

    def fields_set_failing_on_the_second_batch(*, values):
        calls.append(values)
        if len(calls) == 2:
            raise DatabaseError("could not serialize access")
        return real_fields_set(values=values)

    monkeypatch.setattr(services, "subscribers_fields_set", fields_set_failing_on_the_second_batch)
    lines = [f"p{n}@example.com,P{n},Town {n},Imported" for n in range(1, 8)]

    # when
    imp = imported(csv_bytes("email,first name,city,tags", *lines))

    # then: lines 2-4 and 8 are in, lines 5-7 left no trace at all
    emails = set(Subscriber.objects.values_list("email", flat=True))
    assert emails == {"p1@example.com", "p2@example.com", "p3@example.com", "p7@example.com"}
    assert SubscriberFieldValue.objects.count() == 4
    assert Tagging.objects.count() == 4
    assert Event.objects.filter(type=TAG_ADD).count() == 4
    assert Event.objects.filter(type=event_types.SUBSCRIBER_ACTIVATE).count() == 4
    assert imp.status == ImportStatus.DONE
    assert (imp.created_count, imp.failed_count, imp.error_count) == (4, 3, 1)
    assert imp.errors == [
        [
            5,
            "lines 5–7 (batch 2) were not imported: DatabaseError: could not serialize access. "
            "Nothing from these lines was written; import the file again to retry them "
            "(existing subscribers are updated, never duplicated).",
        ]
    ]


def test_a_second_delivery_of_the_task_does_not_import_a_batch_twice(city):
    imp = imported(csv_bytes("email,city,tags", "a@example.com,Oslo,Go", "b@example.com,Rome,Go"))
    events = Event.objects.count()

    again = services.subscriber_import_run(import_id=imp.pk)

    assert Event.objects.count() == events
    assert (again.created_count, again.batches_done) == (2, 1)


def test_a_run_that_died_after_a_batch_resumes_at_the_next_one(monkeypatch):
    monkeypatch.setattr(services, "IMPORT_BATCH_SIZE", 2)
    imp = services.subscriber_import_create(
        data=csv_bytes("email", *(f"p{n}@example.com" for n in range(5))), filename="x.csv"
    )
    services.subscriber_import_start(subscriber_import=imp, enqueue=False)
    services.subscriber_import_run(import_id=imp.pk)
    # A worker killed after the first batch left exactly this behind:
    Subscriber.objects.exclude(email__in=["p0@example.com", "p1@example.com"]).delete()
    SubscriberImport.objects.filter(pk=imp.pk).update(
        status=ImportStatus.RUNNING, batches_done=1, rows_done=2, created_count=2
    )

    resumed = services.subscriber_import_run(import_id=imp.pk)

    assert Subscriber.objects.count() == 5
    assert (resumed.created_count, resumed.status, resumed.percent) == (5, "done", 100)


# Existing subscribers, events, automations ------------------------------------------------


def test_existing_subscribers_are_updated_and_tagged_and_nothing_is_lost(city):
    # given
    old = SubscriberFactory(email="old@example.com", first_name="Olga")
    subscriber_fields_set(subscriber=old, values={city.key: "Oslo"})
    tag(old, "Customer")
    quiet = SubscriberFactory(email="quiet@example.com", first_name="Quinn")
    subscriber_fields_set(subscriber=quiet, values={city.key: "Bergen"})
    gone = SubscriberFactory(email="gone@example.com")
    subscriber_unsubscribe(subscriber=gone)
    before = Event.objects.latest("pk").pk

    # when: an empty cell leaves a value as it is
    imp = imported(
        csv_bytes(
            "email,first_name,city,tags",
            "OLD@example.com,Olga B.,Trondheim,Customer;Buyer",
            "quiet@example.com,,,",
            "gone@example.com,,,",
            "new@example.com,Nina,Rome,Buyer",
        )
    )

    # then
    old.refresh_from_db()
    assert old.first_name == "Olga B."
    assert old.field_values.get().value == "Trondheim"
    assert tags_of(old) == {"Customer", "Buyer"}
    quiet.refresh_from_db()
    assert (quiet.first_name, quiet.field_values.get().value) == ("Quinn", "Bergen")
    assert Subscriber.objects.get(pk=gone.pk).state == SubscriberState.CANCELLED
    assert (imp.created_count, imp.updated_count, imp.unchanged_count, imp.tagged_count) == (
        1,
        1,
        2,
        2,
    )
    new_events = Event.objects.filter(pk__gt=before).order_by("pk")
    assert sorted((e.subscriber.email, e.type, e.payload.get("tag_name")) for e in new_events) == [
        ("new@example.com", "field_value_updated", None),
        ("new@example.com", "subscriber_activate", None),
        ("new@example.com", "tag_add", "Buyer"),
        ("old@example.com", "field_value_updated", None),
        ("old@example.com", "tag_add", "Buyer"),
    ]
    changed = new_events.get(subscriber=old, type="field_value_updated")
    assert (changed.payload["old"], changed.payload["new"]) == ("Oslo", "Trondheim")
    assert new_events.get(type=TAG_ADD, subscriber=old).payload["source"] == f"import:{imp.pk}"


def test_tags_for_everyone_and_a_tags_column_split_on_semicolons_and_commas():
    Tag.objects.create(name="Vip", name_key="vip")

    imported(
        csv_bytes("email,tags", 'a@example.com,"vip, Course A"', "b@example.com,Course B;;"),
        tags=["  Imported 2026 "],
    )

    a, b = (
        Subscriber.objects.get(email="a@example.com"),
        Subscriber.objects.get(email="b@example.com"),
    )
    assert tags_of(a) == {"Vip", "Course A", "Imported 2026"}
    assert tags_of(b) == {"Course B", "Imported 2026"}


def test_a_tag_added_automation_starts_for_every_imported_tagged_subscriber():
    # given
    flow = build(triggers=on_tag("Imported"), steps=[add("Welcomed")])
    already = SubscriberFactory(email="already@example.com")
    tag(already, "Imported")
    settle()

    # when
    imported(
        csv_bytes(
            "email,tags", "a@example.com,Imported", "b@example.com,Imported", "c@example.com,"
        )
    )
    settle()

    # then: the two who got the tag now ran the flow; re-importing a held tag did not fire
    ran = set(Run.objects.filter(automation=flow).values_list("subscriber__email", flat=True))
    assert ran == {"already@example.com", "a@example.com", "b@example.com"}
    assert tags_of(Subscriber.objects.get(email="a@example.com")) == {"Imported", "Welcomed"}
    assert tags_of(Subscriber.objects.get(email="c@example.com")) == set()


def test_starting_hands_the_import_to_the_worker_task(django_capture_on_commit_callbacks):
    imp = services.subscriber_import_create(
        data=csv_bytes("email,name", "a@example.com,Ann"), filename="x.csv"
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.subscriber_import_start(subscriber_import=imp)

    imp.refresh_from_db()
    assert (imp.status, imp.created_count) == (ImportStatus.DONE, 1)
    assert Subscriber.objects.get().first_name == "Ann"


# Queries ----------------------------------------------------------------------------------


def _batch_queries(rows: int, *, city) -> int:
    """Queries to import one batch of ``rows`` lines, a tenth of them existing subscribers."""
    offset = Subscriber.objects.count() + 1000
    existing = [f"p{offset + n}@example.com" for n in range(0, rows, 10)]
    Subscriber.objects.bulk_create(Subscriber(email=e, first_name="Old") for e in existing)
    # One tag a row: taggings are inserted 500 pairs a statement, so a batch's statements are
    # bounded by its size times the tags a row carries, not by the file's length.
    lines = [f"p{offset + n}@example.com,P{n},Town {n},T{n % 3}" for n in range(rows)]
    imp = services.subscriber_import_create(
        data=csv_bytes("email,first name,city,tags", *lines), filename="x.csv"
    )
    services.subscriber_import_start(subscriber_import=imp, enqueue=False)
    with CaptureQueriesContext(connection) as ctx:
        done = services.subscriber_import_run(import_id=imp.pk)
    assert (done.created_count, done.updated_count) == (rows - len(existing), len(existing))
    return len(ctx.captured_queries)


def test_a_batch_issues_the_same_number_of_queries_whatever_its_rows(city):
    few = _batch_queries(50, city=city)
    many = _batch_queries(500, city=city)

    if connection.vendor == "sqlite":
        # Django splits a statement at SQLite's 999 parameters, so the bulk statements of a
        # 500-row batch come in a few pieces: bounded, never one per row.
        assert few < many <= few + 30
    else:
        assert many == few


# The management command -------------------------------------------------------------------


def _command(tmp_path, data: bytes, *args: str) -> tuple[str, str]:
    path = tmp_path / "people.csv"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    call_command("subscribers_import", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_with_a_progress_bar_and_prints_errors_and_the_summary(
    tmp_path, monkeypatch, city
):
    monkeypatch.setattr(services, "IMPORT_BATCH_SIZE", 2)
    data = csv_bytes(
        "Email,Name,Town,Labels",
        "a@example.com,Ann,Oslo,VIP",
        "b@example.com,Bob,Rome,",
        "oops,Carl,,",
        "d@example.com,Dee,,VIP",
    )

    out, err = _command(
        tmp_path, data, "--map", "town=city", "--map", "Labels=tags", "--tag", "CSV"
    )

    assert out.splitlines() == [
        "  Email -> email",
        "  Name -> first_name",
        "  Town -> field:city",
        "  Labels -> tags",
        "line 4: 'oops' is not a valid email address.",
        "3 created, 0 updated, 0 unchanged, 3 tagged, 1 line with errors.",
    ]
    frames = err.rstrip("\n").split("\r")[1:]
    assert frames == [
        "[------------------------------]   0 % 0/3 lines",
        "[###################-----------]  66 % 2/3 lines",
        "[##############################] 100 % 3/3 lines",
    ]
    assert tags_of(Subscriber.objects.get(email="a@example.com")) == {"VIP", "CSV"}
    assert Subscriber.objects.get(email="b@example.com").field_values.get().value == "Rome"


def test_the_command_with_check_reports_and_writes_nothing(tmp_path):
    out, _err = _command(tmp_path, csv_bytes("email", "a@example.com", "nope"), "--check")

    assert "line 3: 'nope' is not a valid email address." in out
    assert out.endswith("1 of 2 lines can be imported; nothing was written (--check).\n")
    assert not Subscriber.objects.exists() and not SubscriberImport.objects.exists()


@pytest.mark.parametrize(
    ("data", "args", "message"),
    [
        (b"email\n\xff\xfe\n", [], "The file is not UTF-8 text (byte 0xff at position 6"),
        (csv_bytes("email,x", "a@example.com,1"), ["--map", "y=email"], "no column named 'y'"),
        (
            csv_bytes("email,x", "a@example.com,1"),
            ["--map", "x=shoe_size"],
            "line 1: column 'x' is mapped to the custom field 'shoe_size', which does not exist",
        ),
    ],
)
def test_the_command_refuses_a_bad_file_or_mapping_and_leaves_nothing(
    tmp_path, data, args, message
):
    with pytest.raises(CommandError, match=re.escape(message)):
        _command(tmp_path, data, *args)

    assert not SubscriberImport.objects.exists()


# The admin pages --------------------------------------------------------------------------


def _upload(client, data: bytes, **extra):
    upload = SimpleUploadedFile("people.csv", data, content_type="text/csv")
    return client.post(reverse("admin:crm_subscriberimport_add"), {"file": upload, **extra})


def test_the_subscriber_list_links_to_the_import_page(admin_client):
    page = admin_client.get(reverse("admin:crm_subscriber_changelist"))

    assert reverse("admin:crm_subscriberimport_add") in page.content.decode()


def test_upload_preview_remap_start_and_summary_in_the_admin(
    admin_client, city, django_capture_on_commit_callbacks
):
    # given: an upload whose "Town" column is not guessed
    response = _upload(
        admin_client,
        csv_bytes("Email,Name,Town", "a@example.com,Ann,Oslo", "nope,Bob,Rome"),
        tags="Imported; Spring",
    )
    imp = SubscriberImport.objects.get()
    assert response.url == reverse("admin:crm_subscriberimport_change", args=[imp.pk])
    preview = admin_client.get(response.url).content.decode()
    assert "line 3: &#x27;nope&#x27; is not a valid email address." in preview
    assert 'value="Import 1 subscriber" id="import-start"' in preview

    # when: Town is mapped to City and the import started
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            response.url,
            {
                "column_0": "email",
                "column_1": "first_name",
                "column_2": "field:city",
                "start": "Import",
            },
        )

    # then
    done = admin_client.get(response.url).content.decode()
    assert 'id="summary-created">1<' in done and 'id="summary-errors">1<' in done
    assert 'data-line="3"' in done
    ann = Subscriber.objects.get()
    assert (ann.first_name, ann.field_values.get().value) == ("Ann", "Oslo")
    assert tags_of(ann) == {"Imported", "Spring"}
    status = admin_client.get(reverse("admin:crm_subscriberimport_status", args=[imp.pk])).json()
    assert status | {"status_label": ""} == {
        "status": "done",
        "status_label": "",
        "percent": 100,
        "rows_done": 1,
        "rows_valid": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "tagged": 1,
        "not_imported": 0,
        "lines_with_errors": 1,
    }


def test_an_upload_that_is_not_utf8_is_refused_on_the_page(admin_client):
    response = _upload(admin_client, "email\nzoë@example.com\n".encode("cp1252"))

    assert response.status_code == 200
    assert "The file is not UTF-8 text" in response.content.decode()
    assert not SubscriberImport.objects.exists()


def test_without_the_rights_to_add_and_change_subscribers_nobody_imports(client, django_user_model):
    # given: staff who may only view subscribers and imports
    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_subscriber", "view_subscriberimport"])
    )
    client.force_login(user)
    imp = services.subscriber_import_create(data=csv_bytes("email", "a@b.example"), filename="x")

    # then
    assert _upload(client, csv_bytes("email", "a@example.com")).status_code == 403
    change = reverse("admin:crm_subscriberimport_change", args=[imp.pk])
    assert client.post(change, {"column_0": "email", "start": "Import"}).status_code == 403
    assert (
        "import-csv" not in client.get(reverse("admin:crm_subscriber_changelist")).content.decode()
    )
    imp.refresh_from_db()
    assert imp.status == ImportStatus.DRAFT


@pytest.mark.parametrize("page", ["preview", "done", "list"])
def test_the_import_pages_issue_the_same_queries_whatever_the_lines(admin_client, city, page):
    def url_for(rows: int) -> str:
        lines = [f"p{rows}-{n}@example.com,P,Oslo,T{n % 4}" for n in range(rows)]
        lines += [f"bad{n},,," for n in range(rows // 5)]
        imp = services.subscriber_import_create(
            data=csv_bytes("email,name,city,tags", *lines), filename="x.csv"
        )
        if page == "list":
            return reverse("admin:crm_subscriberimport_changelist")
        if page == "done":
            services.subscriber_import_start(subscriber_import=imp, enqueue=False)
            services.subscriber_import_run(import_id=imp.pk)
        return reverse("admin:crm_subscriberimport_change", args=[imp.pk])

    few = page_queries(admin_client, url_for(10))
    many = page_queries(admin_client, url_for(600))

    assert many == few


# Review fixes -----------------------------------------------------------------------------


def test_doubled_quotes_after_the_sniffed_part_still_read_as_one_cell():
    """The sniffer looks at the first 64 KB only; quoting follows the CSV standard anyway."""
    filler = [f"p{n}@example.com,Person {n}" for n in range(4000)]  # well past 64 KB
    data = csv_bytes("email,first name", *filler, 'obrien@example.com,"O""Brien, Pat"')
    assert len(data) > parsing.IMPORT_SNIFF_CHARS

    done = imported(data)

    assert done.error_count == 0
    assert Subscriber.objects.get(email="obrien@example.com").first_name == 'O"Brien, Pat'


def test_a_batch_does_not_rewrite_the_uploaded_file(city):
    lines = [f"q{n}@example.com,Q{n}" for n in range(30)]
    imp = services.subscriber_import_create(data=csv_bytes("email,name", *lines), filename="x.csv")
    services.subscriber_import_start(subscriber_import=imp, enqueue=False)
    services.subscriber_import_run(import_id=imp.pk)  # the first save marks it running

    again = services.subscriber_import_create(
        data=csv_bytes("email,name", *lines), filename="y.csv"
    )
    services.subscriber_import_start(subscriber_import=again, enqueue=False)
    SubscriberImport.objects.filter(pk=again.pk).update(status=ImportStatus.RUNNING)
    with CaptureQueriesContext(connection) as ctx:
        services.subscriber_import_run(import_id=again.pk)

    writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("UPDATE")]
    import_writes = [sql for sql in writes if '"crm_subscriberimport"' in sql]
    assert import_writes
    assert not any('"content"' in sql for sql in import_writes)


def test_a_queued_import_whose_message_was_lost_is_run_by_the_next_sweep():
    from apps.crm.tasks import subscriber_imports_resume_stalled as sweep

    imp = services.subscriber_import_create(
        data=csv_bytes("email,name", "lost@example.com,Lou"), filename="x.csv"
    )
    services.subscriber_import_start(subscriber_import=imp, enqueue=False)  # message "lost"

    assert sweep() == 1  # the test settings run the import's task eagerly
    assert sweep() == 0

    imp.refresh_from_db()
    assert (imp.status, imp.lease_holder, imp.locked_until) == (ImportStatus.DONE, "", None)
    assert Subscriber.objects.get(email="lost@example.com").first_name == "Lou"
