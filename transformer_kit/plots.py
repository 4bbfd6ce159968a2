"""PNG plots saved with every run: learning curves and the confusion matrix."""

import numpy as np

# Figures are built without pyplot: no global backend switch (notebooks keep
# their inline plots), no display needed to save PNGs, no figures left open.
from matplotlib.figure import Figure


def plot_learning_curves(history_rows, path=None):
    """Plot training and validation loss and accuracy per epoch, one line per transformer.

    Args:
        history_rows: list of dicts with keys `member`, `epoch`, `loss`,
            `val_loss`, `accuracy`, `val_accuracy` (as in `history.csv`).
        path: where to save the PNG, or `None` to only return the figure.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> rows = [{"member": 0, "epoch": epoch, "loss": 1 / epoch, "val_loss": 1.2 / epoch,
    ...          "accuracy": 1 - 0.3 / epoch, "val_accuracy": 1 - 0.4 / epoch} for epoch in (1, 2, 3)]
    >>> [axis.get_title() for axis in plot_learning_curves(rows).axes]
    ['loss', 'accuracy']
    """
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots(1, 2)
    members = sorted({row["member"] for row in history_rows})
    # Multi-label members report micro F1 (at threshold 0.5) instead of accuracy.
    second = "accuracy" if any("accuracy" in row for row in history_rows) else "micro_f1"
    for metric, axis in zip(("loss", second), axes):
        for member in members:
            rows = [row for row in history_rows if row["member"] == member]
            epochs = [row["epoch"] for row in rows]
            line = axis.plot(epochs, [row.get(metric) for row in rows], label=f"train {member}")
            if any(row.get(f"val_{metric}") is not None for row in rows):
                axis.plot(
                    epochs,
                    [row.get(f"val_{metric}") for row in rows],
                    linestyle="--",
                    color=line[0].get_color(),
                    label=f"validation {member}",
                )
        axis.set_xlabel("epoch")
        axis.xaxis.get_major_locator().set_params(integer=True)
        axis.set_title(metric)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def plot_confusion_matrix(confusion, class_names, path=None, title="Confusion matrix"):
    """Plot a confusion matrix with counts in each cell (rows: true, columns: predicted).

    Args:
        confusion: square int array or nested list.
        class_names: list of str.
        path: where to save the PNG, or `None` to only return the figure.
        title: plot title.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> figure = plot_confusion_matrix([[50, 2], [4, 9]], ["ham", "spam"])
    >>> [text.get_text() for text in figure.axes[0].texts]
    ['50', '2', '4', '9']
    """
    confusion = np.asarray(confusion)
    size = max(4, 0.6 * len(class_names) + 2)
    figure = Figure(figsize=(size, size))
    axis = figure.subplots()
    axis.imshow(confusion, cmap="Blues")
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right")
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    threshold = confusion.max() / 2 if confusion.size else 0
    for (row, column), count in np.ndenumerate(confusion):
        axis.text(
            column,
            row,
            str(count),
            ha="center",
            va="center",
            color="white" if count > threshold else "black",
        )
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure


def plot_top_features(table, path=None):
    """Plot `top_features`' table: one bar chart per class, largest mean attribution on top.

    Args:
        table: `pandas.DataFrame` with columns `class`, `token`,
            `mean_attribution` (see `transformer_kit.top_features`).
        path: where to save the PNG, or `None` to only return the figure.

    Returns:
        The matplotlib `Figure`.

    Example:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"class": ["ham", "spam"], "token": ["lunch", "prize"], "mean_attribution": [0.1, 0.3]})
    >>> [axis.get_title() for axis in plot_top_features(table).axes]
    ['ham', 'spam']
    """
    classes = list(dict.fromkeys(table["class"]))
    height = 1.0 + 0.3 * max([int((table["class"] == name).sum()) for name in classes] + [1])
    figure = Figure(figsize=(4 * max(len(classes), 1), height))
    axes = figure.subplots(1, max(len(classes), 1), squeeze=False)[0]
    for name, axis in zip(classes, axes):
        rows = table[table["class"] == name].iloc[::-1]  # barh draws bottom-up
        axis.barh(rows["token"].astype(str), rows["mean_attribution"], color="tab:green")
        axis.set_title(str(name))
        axis.set_xlabel("mean attribution")
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure
