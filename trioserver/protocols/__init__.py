"""Wire protocols: renderers of the thread event log. The classic streaming API
(`classic`) and the event streaming protocol v2 (`v2`) read the same log through the
same tails; neither has a fan-out path of its own."""
