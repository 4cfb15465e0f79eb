"""The crisis-cell API: the situation at any instant, timeline queries, rejections, replays,
debriefs and the consultation journal, each read scoped by the caller's role and journaled."""
