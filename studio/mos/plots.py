"""The Results tab's figures: the score distribution per method (as the SRGAN paper's figure) and the mean ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from studio.mos.protocol import SCORE_LABELS

SCORES = tuple(SCORE_LABELS)


def distribution_figure(trials: pd.DataFrame, summary: pd.DataFrame) -> go.Figure:
    """Per method (columns), the share of ratings at each score 1..5 colour-coded, with the MOS and its 95% CI in red.

    As in the SRGAN paper's figure, the bins are centred on the scores, so the red marker sits
    on the same axis as the distribution it summarises.
    """
    methods = list(summary["method"])
    counts = pd.crosstab(trials["score"], trials["method"]).reindex(index=SCORES, columns=methods, fill_value=0)
    shares = counts / counts.sum().replace(0, np.nan)
    figure = go.Figure(
        go.Heatmap(
            x=methods,
            y=list(SCORES),
            z=shares.to_numpy(),
            zmin=0,
            zmax=1,
            colorscale="Blues",
            colorbar={"title": "share"},
            customdata=counts.to_numpy(),
            hovertemplate="%{x}: score %{y}: %{customdata} ratings (%{z:.0%})<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=methods,
            y=summary["MOS"],
            mode="markers",
            name="MOS (95% CI)",
            marker={"color": "red", "size": 11, "symbol": "diamond"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": summary["CI high"] - summary["MOS"],
                "arrayminus": summary["MOS"] - summary["CI low"],
                "color": "red",
            },
        )
    )
    figure.update_layout(
        title="Distribution of the scores per method",
        xaxis_title="method",
        yaxis={
            "title": "score",
            "tickvals": list(SCORES),
            "ticktext": [f"{score} {label}" for score, label in SCORE_LABELS.items()],
        },
        height=420,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        showlegend=False,
    )
    return figure


def rank_figure(summary: pd.DataFrame) -> go.Figure:
    """Mean rank per method within each rater's view of an image (1 = judged best), best at the top."""
    figure = go.Figure(
        go.Scatter(
            x=summary["method"],
            y=summary["mean rank"],
            mode="markers+lines",
            marker={"size": 11, "color": "#1f77b4"},
            line={"dash": "dot"},
            hovertemplate="%{x}: mean rank %{y:.2f}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Average rank per method (1 = best)",
        xaxis_title="method",
        yaxis={"title": "mean rank", "autorange": "reversed"},
        height=360,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
    )
    return figure
