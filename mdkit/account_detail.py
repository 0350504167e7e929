"""An order with its fills: what :meth:`mdkit.Account.order` returns."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["OrderDetail"]


@dataclass(frozen=True, repr=False)
class OrderDetail:
    """One order and its fills, as :meth:`Account.order` returns them.

    Attributes
    ----------
    order : pandas.DataFrame
        One row with the columns of :meth:`Account.all_orders`.
    trades : pandas.DataFrame
        The order's fills, with the columns of :meth:`Account.my_trades`.
    """

    order: pd.DataFrame
    trades: pd.DataFrame

    @property
    def id(self) -> int:
        """The order id."""
        return int(self.order["id"].iloc[0])

    @property
    def status(self) -> str:
        """The readable status: ``NEW``, ``PART_FILLED``, ``FILLED``, ``CANCELED``..."""
        return str(self.order["status_name"].iloc[0])

    def __repr__(self) -> str:
        row = self.order.iloc[0]
        return (
            f"<OrderDetail id={self.id} {row['side']} {row['type_name']} {self.status} "
            f"filled {row['deal_volume']:g}/{row['volume']:g} fills={len(self.trades)}>"
        )
