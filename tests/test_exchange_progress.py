"""Export and import tell a progress callback how far they are, ending at the total."""

from __future__ import annotations

from pathlib import Path

import statehub


def test_export_and_import_report_their_rows(tmp_path: Path) -> None:
    with statehub.open("memory://") as hub:
        agent = hub.agent("writer")
        for n in range(2500):
            agent.put(f"global/k{n}", n)
        exported: list[tuple[int, int]] = []
        hub.export(tmp_path / "hub.json", history=True, progress=lambda *at: exported.append(at))
    total = exported[-1][1]
    assert total == 2500 + 2500  # every entry and every change
    assert exported[-1] == (total, total)
    assert [done for done, _ in exported] == sorted(done for done, _ in exported)
    assert len(exported) > 3  # reported along the way, not only at the end
    checked: list[tuple[int, int]] = []
    with statehub.open("memory://") as copy:
        statehub.import_file(tmp_path / "hub.json", copy, progress=lambda *at: checked.append(at))
        assert copy.agent("reader").get("global/k2499") == 2499
    assert checked[-1] == (total, total)
