#!/usr/bin/python3
"""What an event costs on disk, from a wardgate database (read only):

  tools/bytes_per_event.py DB [--json]

Pages per table and index from SQLite's dbstat; the journal's rows and body
bytes per kind from journal_totals (migration 5); the outbox's from
outbox_totals. A journal row of a kind costs its body plus the journal's
per-row overhead (the other columns and the seven indexes, the same for every
kind); an event for the district also has its outbox row (payload plus the
outbox's per-row overhead) until the platform acknowledges it. Prints a
table; --json prints the numbers."""
import json
import sqlite3
import sys


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    con = sqlite3.connect(f"file:{argv[1]}?mode=ro", uri=True)
    pages = dict(con.execute("select name, sum(pgsize) from dbstat group by name").fetchall())
    page_size = con.execute("pragma page_size").fetchone()[0]
    indexes = dict(con.execute("select name, tbl_name from sqlite_schema where type = 'index'").fetchall())
    per_table = {}
    for name, size in pages.items():
        table = indexes.get(name, name)
        per_table[table] = per_table.get(table, 0) + size
    kinds = con.execute("select kind, rows, bytes from journal_totals where rows > 0 order by kind").fetchall()
    outbox = {c: (r, b) for c, r, b in con.execute("select class, rows, bytes from outbox_totals")}
    uplink = dict(con.execute("select kind, max(uplink) from events group by kind").fetchall())
    journal_rows = sum(r for _, r, _ in kinds) or 1
    journal_body = sum(b for _, _, b in kinds)
    journal_overhead = (per_table.get("events", 0) - journal_body) / journal_rows
    outbox_rows = sum(r for r, _ in outbox.values()) or 1
    outbox_payload = sum(b for _, b in outbox.values())
    outbox_overhead = (per_table.get("outbox", 0) - outbox_payload) / outbox_rows if outbox_payload else 0
    result = {"page_size": page_size, "tables": per_table, "journal_overhead_per_row": journal_overhead,
              "outbox_overhead_per_row": outbox_overhead, "kinds": {}}
    for kind, rows, body in kinds:
        journal = body / rows + journal_overhead
        # The outbox payload is the body plus the event's fields (about 300 bytes).
        with_outbox = journal + (body / rows + 300 + outbox_overhead if uplink.get(kind) else 0)
        result["kinds"][kind] = {"rows": rows, "body": body / rows, "journal": journal,
                                 "journal_and_outbox": with_outbox}
    if "--json" in argv:
        print(json.dumps(result, indent=1))
        return 0
    print(f"tables (bytes with their indexes, pages of {page_size}):")
    for table, size in sorted(per_table.items(), key=lambda kv: -kv[1]):
        print(f"  {table:16s} {size:12,d}")
    print(f"journal: {journal_rows:,} rows, {journal_overhead:.0f} bytes per row besides the body; "
          f"outbox: {outbox_rows:,} rows, {outbox_overhead:.0f} bytes per row besides the payload")
    print(f"{'kind':16s} {'rows':>9s} {'body':>7s} {'journal':>8s} {'+outbox':>8s}")
    for kind, k in result["kinds"].items():
        print(f"{kind:16s} {k['rows']:9,d} {k['body']:7.0f} {k['journal']:8.0f} {k['journal_and_outbox']:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
