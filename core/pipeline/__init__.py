"""The use cases that make batches, one module each, over shared steps.

- ``generate``: a brief -> a new session and its first batch (``initial``), or a new
  batch in a session (``add_brief``).
- ``more_like``: more like a cluster -> a child batch.
- ``import_clips``: the musician's files -> a batch (in a new session or not).
- ``blend``: between two clusters -> a child batch under the first, its cluster
  recording both parents.

Shared: ``run.Run`` (one call's state: progress, cancel, on_clip, timings, notices),
``tools.Tools`` (store, providers, settings, clusterer, clock), ``steps`` (generate,
embed, build rows, persist), ``rounds`` (generate in rounds until enough pass; store a
child batch) and ``naming`` (cluster and name).

A use case is a function ``(tools: Tools, run: Run, ...) -> Batch | Session`` that
checks its input before it writes anything, calls ``run.start_clock()`` when the
work starts, stages its clips in ``tools.store.staging_dir(batch_id)``, stores the
batch with one ``steps.persist`` (one transaction: rows, files, a new session) and
returns ``run.finish(batch)``. To add one (extend, blend): a new module here with
that function, and a method on ``core.service.SessionService`` that calls it
through ``_call``.
"""
