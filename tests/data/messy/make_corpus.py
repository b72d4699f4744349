"""Generate the messy-file corpus: real-world CSV exports and what the engine must make of them.

Deterministic, stdlib only: running it twice writes byte-identical files.

    python3 tests/data/messy/make_corpus.py

Every file is written as exact bytes (encoding, BOM, separators, line ends are the point), and
`expected.json` records the documented outcome of each: for contact files the number of contacts
created and the rejected (line, field) pairs; for exclusion files the targets stored, the rows
marked keep and the rejected (line, field) pairs. tests/integration/test_messy_corpus.py checks
every file against it through the real `campaign` command.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "email,first_name,last_name,title,account,employees,segment,owner_email,outreach_mode"
REP = "dana.reyes@gitlab-demo.example"


def _lines(*rows: str, sep: str = ",", end: str = "\n") -> str:
    return end.join(row.replace(",", sep) if sep != "," else row for row in rows) + end


def contacts(name: str, data: bytes, created: int, rejected: list[tuple[int, str]], **extra):  # type: ignore[no-untyped-def]
    return name, data, {"kind": "contacts", "created": created, "rejected": rejected, **extra}


def exclusions(
    name: str, data: bytes, targets: list[str], kept: int, rejected: list[tuple[int, str]], **extra
):  # type: ignore[no-untyped-def]
    return (
        name,
        data,
        {"kind": "exclusions", "targets": targets, "kept": kept, "rejected": rejected, **extra},
    )


def refused(name: str, data: bytes, message: str):  # type: ignore[no-untyped-def]
    """A file-level problem: exit 1, `message` on stderr, nothing applied."""
    return name, data, {"kind": "refused", "message": message}


def _random_bytes(size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:size]


def _workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member in ("[Content_Types].xml", "xl/workbook.xml"):
            info = zipfile.ZipInfo(member, date_time=(2021, 4, 20, 0, 0, 0))
            archive.writestr(info, "<?xml version='1.0'?><x/>")
    return buffer.getvalue()


_ROWS_300 = [f"r{i}@big.example,R,{i},Developer,Big Co,10,,{REP}," for i in range(300)]

CORPUS = [
    refused("empty.csv", b"", "empty.csv: the file is empty"),
    refused("header-only.csv", (HEADER + "\n").encode(), "header-only.csv: only a header row"),
    refused(
        "oversized-field.csv",
        _lines(
            HEADER,
            *_ROWS_300,
            f"huge@big.example,{'x' * 140_000},B,CTO,Big Co,10,,,",
            "after@big.example,A,B,CTO,Big Co,10,,,",
        ).encode(),
        "oversized-field.csv:302: a field starting on this line is longer than 131,072",
    ),
    refused(
        "unterminated-quote.csv",
        _lines(
            HEADER,
            f"m1@new.example,Mo,New,CTO,New Co,10,,{REP},",
            'm2@new.example,"Unterminated,Co,10',
            f"m3@new.example,Mi,New,CTO,New Co,10,,{REP},",
        ).encode(),
        "unterminated-quote.csv:3: a quote opened on this line is never closed",
    ),
    refused(
        "swallowed-rows.csv",
        _lines(
            HEADER,
            f'q1@new.example,"Quinn,New,CTO,New Co,10,,{REP},',
            f"q2@new.example,Quin,New,CTO,New Co,10,,{REP},",
            f'q3@new.example,Q,New,"CTO",New Co,10,,{REP},',
        ).encode(),
        "swallowed-rows.csv:2: a quote opened on this line runs over",
    ),
    refused(
        "mixed-encoding.csv",
        _lines(HEADER, f"zoe@mix.example,Zoë,Müller,CTO,Mix Co,10,,{REP},").encode()
        + _lines(f"jose@mix.example,José,Nuñez,CTO,Mix Co,10,,{REP},").encode("cp1252"),
        "mixed-encoding.csv:3: mixes encodings",
    ),
    refused("random-bytes.csv", _random_bytes(20_000), "random-bytes.csv: not a CSV file"),
    refused("contacts.xlsx", _workbook(), "contacts.xlsx: not a CSV file: it looks like XLSX"),
    refused("report-pdf.csv", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "it looks like a PDF"),
    contacts(
        "foreign-headers.csv",
        _lines(
            "E-mail;Prénom;Nom;Company;Employees",
            "marie@fr.example;Marie;Curie;Radium SA;12",
            "pierre@fr.example;Pierre;Curie;Radium SA;12",
            sep=";",
        ).encode("utf-8"),
        created=2,
        rejected=[],
        notes=["ignored columns: Prénom, Nom; did you mean first_name, last_name?"],
    ),
    contacts(
        "control-characters.csv",
        _lines(
            HEADER,
            f"nul@ctl.example,Ad\x00a,Null,CTO,Ctl Co,10,,{REP},",
            f'excel@ctl.example,Eve,Excel,"Director; Security\nand Compliance",Ctl Co,10,,{REP},',
            f"tab@ctl.example,Tab,Bed,Head\tof IT,Ctl Co,10,,{REP},",
            f"bell@ctl.example,Bel\x07l,\x1bEsc,CTO,Ctl\x85 Co,10,,{REP},",
        ).encode("utf-8"),
        created=4,
        rejected=[],
        warnings=[(2, "first_name"), (6, "first_name"), (6, "last_name")],
        names={"nul@ctl.example": "Ada Null", "bell@ctl.example": "Bell Esc"},
        titles={
            "excel@ctl.example": "Director; Security and Compliance",
            "tab@ctl.example": "Head of IT",
        },
        accounts=["Ctl Co"],
    ),
    contacts(
        "unknown-owner.csv",
        _lines(
            HEADER,
            "own1@own.example,Owen,Known,CTO,Own Co,10,,someone-unknown@gitlab-demo.example,",
            "own2@own.example,Olga,Known,CTO,Own Co,10,,,",
        ).encode("utf-8"),
        created=2,
        rejected=[],
        warnings=[(2, "owner_email")],
    ),
    contacts(
        "utf8-bom.csv",
        b"\xef\xbb\xbf"
        + _lines(
            "E-mail,First Name,Last Name,Job Title,Company,Employees,Segment,Owner,Mode",
            f"rene@bom.example,René,Durand,Developer,Bom SARL,12,,{REP},",
            f"chloe@bom.example,Chloé,Lefèvre,CTO,Bom SARL,12,,{REP},",
        ).encode("utf-8"),
        created=2,
        rejected=[],
        names={"rene@bom.example": "René Durand", "chloe@bom.example": "Chloé Lefèvre"},
    ),
    contacts(
        "windows-1252.csv",
        _lines(
            HEADER,
            f"zoe@cp.example,Zoë,Müller,Entwickler,Müller GmbH,40,,{REP},",
            f"jose@cp.example,José,Nuñez,Señor Engineer,Müller GmbH,40,,{REP},",
        ).encode("cp1252"),
        created=2,
        rejected=[],
        names={"zoe@cp.example": "Zoë Müller", "jose@cp.example": "José Nuñez"},
        accounts=["Müller GmbH"],
    ),
    contacts(
        "semicolon-crlf-cp1252.csv",
        _lines(
            HEADER.replace(",", ";"),
            f'anna@semi.example;Anna;Weiß;"Head of IT; Security";"Acme, Inc.";20;;{REP};',
            f"bad-address;Bad;Row;CTO;Acme, Inc.;20;;{REP};",
            f"jan@semi.example;Jan;Køhler;Developer;Acme, Inc.;20;;{REP};",
            end="\r\n",
        ).encode("cp1252"),
        created=2,
        rejected=[(3, "email")],
        names={"anna@semi.example": "Anna Weiß", "jan@semi.example": "Jan Køhler"},
        accounts=["Acme, Inc."],
    ),
    contacts(
        "tab-separated.tsv",
        _lines(
            HEADER,
            f"tab@tab.example,Tab,Separated,Developer,Tab Ltd,5,,{REP},",
            f"tess@tab.example,Tess,Tabby,Architect,Tab Ltd,5,,{REP},C",
            sep="\t",
        ).encode("utf-8"),
        created=2,
        rejected=[],
    ),
    contacts(
        "embedded-newlines.csv",
        _lines(
            HEADER + ",notes",
            f'ml1@multi.example,Mia,Line,Developer,Multi Co,8,,{REP},,"first line\nsecond, with comma\nthird"',
            f'ml2@multi.example,"Max\nBcc: victim@evil.example",Line,Developer,Multi Co,8,,{REP},,',
            f"not an address,Bad,Row,Developer,Multi Co,8,,{REP},,",
            f'ml3@multi.example,Moe,Line,"Dev, Ops",Multi Co,8,,{REP},,"a\r\nb"',
            f"ml4@multi.example,Ned,Line,Developer,Multi Co,8,,{REP},,x@,y",
            "also-bad@,Bad,Row,Developer,Multi Co,8,,,,",
        ).encode("utf-8"),
        created=4,
        # quoted line breaks in names fold to one space (Excel and Salesforce exports have them)
        rejected=[(7, "email"), (11, "email")],
        names={"ml2@multi.example": "Max Bcc: victim@evil.example Line"},
    ),
    contacts(
        "crlf.csv",
        _lines(
            HEADER,
            f"cr1@crlf.example,Cara,Crlf,Developer,Crlf Co,9,,{REP},",
            f"cr2@crlf.example,Cole,Crlf,Developer,Crlf Co,9,,{REP},Z",
            f"cr3@crlf.example,Cruz,Crlf,Developer,Crlf Co,9,,{REP},B",
            end="\r\n",
        ).encode("utf-8"),
        created=2,
        rejected=[(3, "outreach_mode")],
    ),
    contacts(
        "duplicates-and-case.csv",
        _lines(
            HEADER,
            f"Dup@Dup.Example,Dee,Dup,Developer,Dup Co,7,,{REP},",
            f"dup@dup.example,Dee,Dup,Developer,Dup Co,7,,{REP},",
            f"Dup@Dup.Example,Dee,Dup,Developer,Dup Co,7,,{REP},",
            f"DUP@dup.example,Dee,Different,Developer,Dup Co,7,,{REP},",
            f"other@dup.example,Otto,Dup,Developer,Dup Co,7,,{REP},",
        ).encode("utf-8"),
        created=2,
        rejected=[(5, "email")],
        names={"dup@dup.example": "Dee Dup"},
    ),
    contacts(
        "spaces-and-empty-lines.csv",
        (
            " Email , First Name , Last Name ,Title,Account ,Employees,Segment,Owner,Mode\n"
            "\n"
            f"  Ana@Space.Example  ,  Ana  , Trail ,Developer  ,  Space Co ,  10 ,,{REP} ,\n"
            ",,,,,,,,\n"
            "\n"
            f"sam@space.example,Sam,Trail,Developer,Space Co,10,,{REP},\n"
            "   \n"
            f"bad@@space.example,Bad,Row,Developer,Space Co,10,,{REP},\n"
        ).encode(),
        created=2,
        rejected=[(8, "email")],
        names={"ana@space.example": "Ana Trail"},
        accounts=["Space Co"],
    ),
    contacts(
        "extra-columns.csv",
        _lines(
            "exclude,reason,email,first_name,last_name,title,account,employees,segment,"
            "owner_email,outreach_mode,linkedin,last_activity",
            f"y,churn risk,ex1@extra.example,Ex,One,Developer,Extra Co,30,,{REP},,https://x.example,2021-01-01",
            f",,ex2@extra.example,Ex,Two,Developer,Extra Co,30,,{REP},,,,surplus,cells",
        ).encode("utf-8"),
        created=2,
        rejected=[],
    ),
    contacts(
        "formulas.csv",
        _lines(
            HEADER,
            f'fx@formula.example,Fox,Formula,"=HYPERLINK(""http://evil.example"",""click"")",Formula Co,10,,{REP},',
            f"fy@formula.example,@SUM(A1:A9),+Plus,-Minus,Formula Co,10,,{REP},",
            f"=cmd|' /C calc'!A0,Bad,Row,Developer,Formula Co,10,,{REP},",
        ).encode("utf-8"),
        created=2,
        rejected=[(4, "email")],
        titles={"fx@formula.example": '=HYPERLINK("http://evil.example","click")'},
    ),
    contacts(
        "header-injection.csv",
        _lines(
            HEADER,
            f'inj1@inject.example,"Eve\r\nBcc: victim@evil.example",Evil,CTO,Inject Co,10,,{REP},',
            f'inj2@inject.example,Eve,"Evil\nSubject: hi",CTO,Inject Co,10,,{REP},',
            f'inj3@inject.example,Eve,Evil,"CTO\rX-Hdr: 1",Inject Co,10,,{REP},',
            f'inj4@inject.example,Eve,Evil,CTO,"Inject Co\nBcc: x@evil.example",10,,{REP},',
            f"safe@inject.example,Sara,Safe,CTO,Inject Co,10,,{REP},",
        ).encode("utf-8"),
        created=5,
        # folded to one line, so nothing can start a header of its own
        rejected=[],
        titles={"inj3@inject.example": "CTO X-Hdr: 1"},
    ),
    contacts(
        "invalid-addresses.csv",
        _lines(
            HEADER,
            f"no-at-sign.example,A,B,CTO,Bad Co,10,,{REP},",
            f"two@@at.example,A,B,CTO,Bad Co,10,,{REP},",
            f"dot.@bad.example,A,B,CTO,Bad Co,10,,{REP},",
            f"spa ce@bad.example,A,B,CTO,Bad Co,10,,{REP},",
            f",A,B,CTO,Bad Co,10,,{REP},",
            f"nodomain@,A,B,CTO,Bad Co,10,,{REP},",
            "ok@bad.example,A,B,CTO,Bad Co,10,,not-a-rep,",
            f"fine@bad.example,Fine,Row,CTO,Bad Co,10,,{REP},",
        ).encode("utf-8"),
        created=1,
        rejected=[
            (2, "email"),
            (3, "email"),
            (4, "email"),
            (5, "email"),
            (6, "email"),
            (7, "email"),
            (8, "owner_email"),
        ],
    ),
    exclusions(
        "exclude-target-list-bom-semicolon.csv",
        b"\xef\xbb\xbf"
        + _lines(
            "Exclude;Reason;Email;First Name;Account",
            "y;open renewal;Ana@Space.Example ;Ana;Space Co",
            "Yes;escalation;sam@space.example;Sam;Space Co",
            "x;;rene@bom.example;René;Bom SARL",
            "TRUE;legal hold;ghost@nowhere.example;Ghost;Nowhere",
            "1;dup of line 2 in other case;ANA@space.example;Ana;Space Co",
            ";;tab@tab.example;Tab;Tab Ltd",
            "n;;tess@tab.example;Tess;Tab Ltd",
            "no;;jan@semi.example;Jan;Acme",
            "maybe;unsure;zoe@cp.example;Zoë;Müller GmbH",
            "y;bad address;not-an-address;X;Y",
            end="\r\n",
            sep=";",
        ).encode("utf-8"),
        targets=[
            "ana@space.example",
            "sam@space.example",
            "rene@bom.example",
            "ghost@nowhere.example",
        ],
        kept=3,
        rejected=[(10, "exclude"), (11, "email")],
        unmatched=["ghost@nowhere.example"],
        reasons={"ana@space.example": "open renewal", "rene@bom.example": ""},
    ),
    exclusions(
        "exclude-headerless.txt",
        (
            b"  Dup@Dup.Example  \n"
            b"\n"
            b"@multi.example\n"
            b"tab.example\n"
            b"not an address\n"
            b"chloe@bom.example\n"
            b"dup@dup.example\n"
        ),
        targets=["dup@dup.example", "@multi.example", "@tab.example", "chloe@bom.example"],
        kept=0,
        rejected=[(5, "value")],
    ),
    exclusions(
        "exclude-domain-in-email-column.csv",
        _lines("email,reason", "@acct5.example,lost deal", "ana@space.example,renewal").encode(),
        targets=["ana@space.example"],
        kept=0,
        rejected=[(2, "email")],
        hints=["put domains in a 'domain' column"],
    ),
    exclusions(
        "exclude-domains-cp1252-tab.tsv",
        _lines(
            "domain,reason",
            "crlf.example,Geschäftsführer asked",
            '@formula.example,=HYPERLINK("http://evil.example")',
            "bad domain!,x",
            "someone@crlf.example,an address in the domain column",
            sep="\t",
        ).encode("cp1252"),
        targets=["@crlf.example", "@formula.example"],
        kept=0,
        rejected=[(4, "domain"), (5, "domain")],
        notes=["read as Windows-1252"],
        reasons={
            "@crlf.example": "Geschäftsführer asked",
            "@formula.example": '=HYPERLINK("http://evil.example")',
        },
    ),
]


def main() -> None:
    expected = {}
    for name, data, outcome in CORPUS:
        (HERE / name).write_bytes(data)
        expected[name] = outcome
    (HERE / "expected.json").write_text(json.dumps(expected, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
