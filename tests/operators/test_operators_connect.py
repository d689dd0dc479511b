"""What a ``conn`` may be: a URL, an object with ``.sqlalchemy_engine()``, or a connection name
(which needs ``pauta.connections``); passwords stay out of error messages."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pauta.operators import OperatorError, sql, transfer
from pauta.operators.connect import redact


class Warehouse:
    """A connection object, as ``pauta.connections.connection(name)`` returns one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engines = 0

    def sqlalchemy_engine(self) -> sa.Engine:
        self.engines += 1
        return sa.create_engine(self.url)


def test_a_connection_object_gives_its_engine(tmp_path: Path) -> None:
    src = Warehouse(f"sqlite:///{tmp_path / 'src.db'}")
    dst = Warehouse(f"sqlite:///{tmp_path / 'dst.db'}")
    sql(src, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    sql(src, "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert transfer(src, "SELECT id, v FROM t", dst, "t", mode="upsert", key="id").rows == 2
    assert sql(dst, "SELECT v FROM t ORDER BY id") == [{"v": "a"}, {"v": "b"}]
    assert (src.engines, dst.engines) == (3, 2)


def test_a_connection_name_is_looked_up_and_its_engine_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    from pauta.connections import UnknownConnectionError

    monkeypatch.setenv("PAUTA_CONN_WAREHOUSE", f"sqlite:///{tmp_path / 'wh.db'}")
    sql("warehouse", "CREATE TABLE t (v TEXT)")
    sql("warehouse", "INSERT INTO t VALUES (:v)", {"v": "kept"})
    assert sql("warehouse", "SELECT v FROM t") == [{"v": "kept"}]
    with pytest.raises(UnknownConnectionError, match="no connection named 'elsewhere'"):
        sql("elsewhere", "SELECT 1")


def test_passwords_stay_out_of_messages() -> None:
    with pytest.raises(Exception, match=r"(?i)connect") as raised:  # nothing listens on port 9
        sql("postgresql+psycopg://etl:hunter2secret@127.0.0.1:9/db", "SELECT 1")
    assert "hunter2secret" not in str(raised.value)
    with pytest.raises(OperatorError) as bad:
        sql("nosuchdriver://etl:hunter2secret@host/db", "SELECT 1")
    assert "hunter2secret" not in str(bad.value)
    assert "etl:***@host" in str(bad.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://etl:pw@db:5432/w", "postgresql://etl:***@db:5432/w"),
        ("mysql+pymysql://root@127.0.0.1/x", "mysql+pymysql://root@127.0.0.1/x"),
        ("https://u:p%40ss@api.example.com/v1", "https://u:***@api.example.com/v1"),
        ("sqlite:///tmp/a.db", "sqlite:///tmp/a.db"),
    ],
)
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown
