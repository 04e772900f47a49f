"""One page of a listing: the shape every ``GET`` that lists things answers with.

A service names its page by subclassing, so its OpenAPI schema keeps a readable name and its own
example: ``class CallPage(Page[LedgerRecord])``.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    """``items`` on this page; ``total`` across every page; ``limit`` and ``offset`` as asked."""

    items: list[ItemT] = Field(description="The items on this page, in the order asked for.")
    total: int = Field(description="Items matching the filters, on every page.")
    limit: int = Field(description="The page size asked for.")
    offset: int = Field(description="Items skipped before this page.")
