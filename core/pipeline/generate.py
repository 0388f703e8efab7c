"""From a brief: a new session and its first batch, or a new batch in a session."""

from __future__ import annotations

import secrets
import uuid

from core import clustering
from core.errors import ValidationError
from core.models import BATCH_INITIAL, Batch, BriefParams, Session, new_id
from core.pipeline import naming, steps
from core.pipeline.run import Run
from core.pipeline.tools import Tools
from core.prompt import render_prompt
from core.validation import validate_brief, validate_num_clips

SEED_LIMIT = 2**31 - 1


def random_seed() -> int:
    return secrets.randbelow(SEED_LIMIT)


def initial(
    tools: Tools, run: Run, brief: str, params: BriefParams, num_clips: int, *, seed: int | None
) -> Session:
    """Create a session from a brief and its first batch (one transaction); return the stored session."""
    brief, params, num_clips = check_brief(tools, brief, params, num_clips)
    batch = _from_scratch(tools, run, new_id(), brief, params, num_clips, seed, new_session=True)
    return tools.store.require_session(batch.session_id)


def add_brief(
    tools: Tools,
    run: Run,
    session_id: uuid.UUID,
    brief: str,
    params: BriefParams,
    num_clips: int,
    *,
    seed: int | None,
) -> Batch:
    """A new from-scratch batch (its own brief) inside an existing session.

    Reads only the session's own row, never its other batches: the cost is the
    same in a session of 10 clips and of 10,000.
    """
    brief, params, num_clips = check_brief(tools, brief, params, num_clips)
    head = tools.store.require_session_head(session_id)
    return _from_scratch(tools, run, head.id, brief, params, num_clips, seed, new_session=False)


def check_brief(
    tools: Tools, brief: str, params: BriefParams, num_clips: int
) -> tuple[str, BriefParams, int]:
    """A from-scratch batch's input, checked before anything runs."""
    if not isinstance(params, BriefParams):
        raise ValidationError("Params must be BriefParams (energy, density, duration).")
    steps.check_duration(tools, params.duration_sec)
    steps.check_inputs(tools, params)
    return validate_brief(brief), params, validate_num_clips(num_clips, tools.settings.max_batch_size)


def _from_scratch(
    tools: Tools,
    run: Run,
    session_id: uuid.UUID,
    brief: str,
    params: BriefParams,
    num_clips: int,
    seed: int | None,
    *,
    new_session: bool,
) -> Batch:
    clustering.warm_up()
    run.start_clock()
    prompt = render_prompt(brief, params, getattr(tools.music, "capabilities", None))
    batch_seed = random_seed() if seed is None else int(seed)
    batch_id = new_id()
    with tools.store.staging_dir(batch_id) as staging:
        clips = steps.generate(tools, run, prompt, num_clips, params, batch_seed, staging)
        candidates = steps.embed(tools, run, clips)
        batch, sources = naming.cluster_and_name(
            tools,
            run,
            batch_id,
            session_id,
            prompt,
            params,
            candidates,
            kind=BATCH_INITIAL,
            num_requested=num_clips,
            seed=batch_seed,
        )
        steps.persist(tools, run, batch, sources, new_session=(brief, params) if new_session else None)
    return run.finish(batch)
