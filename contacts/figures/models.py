"""The figures' rollup: moves counted per period and group, kept with the transitions (contacts.figures.tallies)."""

from __future__ import annotations

from django.db import models


class MoveTally(models.Model):
    """`count` moves from one position to another that a group's contacts made in one period.

    A group is the MRD and script selector a contact has (as the figures count it: in the group it has
    now). The period starts at `period_start`: a minute for the last FOLD_AFTER, a quarter of an hour
    before that (each zone's midnight falls on a quarter). The moving transaction appends a row per
    key with its count (a delta, never an update of a shared row); `tallies.fold` merges each period's
    rows into one, so reading a day costs the same whatever its traffic. `in_threshold` marks answers
    (moves from the queue to an agent) within their MRD's service level threshold.
    """

    period_start = models.DateTimeField()
    mrd_id = models.PositiveIntegerField("MRD", null=True, blank=True)
    script_selector = models.CharField(max_length=32, blank=True)
    from_state = models.CharField(max_length=10, blank=True)
    from_reason = models.CharField(max_length=48, blank=True)
    to_state = models.CharField(max_length=10)
    to_reason = models.CharField(max_length=48, blank=True)
    in_threshold = models.BooleanField(default=False)
    count = models.IntegerField()

    class Meta:
        verbose_name = "move tally"
        indexes = [models.Index(fields=["period_start"], name="move_tally_period_idx")]

    def __str__(self) -> str:
        move = f"{self.from_state}/{self.from_reason} → {self.to_state}/{self.to_reason}"
        return f"{self.count} × {move} at {self.period_start}"
