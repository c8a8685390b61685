"""One job attempt's session, watched: when its transaction began, whether it has written.

The runner reads ``open_for()`` to warn about a transaction held long (on SQLite it is the one
connection the embedded API needs too), and ``JobContext.release_connection`` ends a
transaction that only read, before the handler waits on the network.
"""

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction


class UnitOfWork:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self.began: float | None = None  # time.monotonic() of the open transaction's start
        self.wrote = False
        self.longest = 0.0  # seconds, over the attempt's transactions that ended
        sync = db.sync_session
        event.listen(sync, "after_begin", self._began)
        event.listen(sync, "after_transaction_end", self._ended)
        event.listen(sync, "after_flush", self._flushed)
        event.listen(sync, "do_orm_execute", self._executed)

    def _began(self, _session: Session, transaction: SessionTransaction, _conn: Any) -> None:
        if self.began is None and transaction.parent is None:
            self.began = time.monotonic()

    def _ended(self, _session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and self.began is not None:
            self.longest = max(self.longest, time.monotonic() - self.began)
            self.began = None
            self.wrote = False

    def _flushed(self, _session: Session, _context: Any) -> None:
        self.wrote = True

    def _executed(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            self.wrote = True

    def open_for(self) -> float:
        """Seconds the current transaction has been open (0 when none is)."""
        return 0.0 if self.began is None else time.monotonic() - self.began

    async def release(self) -> None:
        if self.wrote or self.db.new or self.db.dirty or self.db.deleted:
            raise RuntimeError(
                "release_connection() after this attempt wrote: do network I/O before the "
                "first write, or split the work into two jobs"
            )
        await self.db.rollback()
