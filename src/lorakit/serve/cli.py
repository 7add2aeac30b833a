"""`lorakit serve` and `lorakit chat`."""

from __future__ import annotations

import ipaddress
import os
import queue
from pathlib import Path

import click

from lorakit.core.errors import LorakitError, UsageError
from lorakit.core.output import emit_json


def parse_adapter_flags(values: tuple[str, ...]) -> tuple[list[str], dict[str, Path]]:
    """``--adapter NAME`` (registered) or ``--adapter NAME=DIR`` (a folder)."""
    from lorakit.adapters.registry import validate_name

    names, folders = [], {}
    for value in values:
        name, _, folder = value.partition("=")
        validate_name(name)
        names.append(name)
        if folder:
            folders[name] = Path(folder).expanduser()
    return names, folders


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--base", default=None, help="Base model (default: the adapters' own base).")
@click.option("--adapter", "adapters", multiple=True, metavar="NAME[=DIR]",
              help="Adapter to load at start (repeatable); any registered one loads on use.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--api-key", default=lambda: os.environ.get("LORAKIT_API_KEY"),
              help="Require 'Authorization: Bearer KEY' (or set LORAKIT_API_KEY).")
@click.option("--insecure-no-key", is_flag=True,
              help="Allow a non-loopback --host without an API key.")
@click.option("--max-loaded", default=8, show_default=True, help="Adapters kept in memory.")
@click.option("--max-batch", default=32, show_default=True, help="Rows per forward pass.")
@click.option("--queue-limit", default=64, show_default=True, help="Waiting requests (429 over).")
@click.option("--max-prompt-tokens", default=2048, show_default=True)
@click.option("--max-tokens", "max_new_tokens", default=1024, show_default=True,
              help="Largest max_tokens a request may ask for.")
@click.option("--timeout", "timeout_s", default=120.0, show_default=True,
              help="Seconds per request, queue included.")
@click.option("--max-body-bytes", default=1 << 20, show_default=True)
@click.option("--dtype", default="auto", show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--lora-impl", type=click.Choice(["stacked", "peft"]), default="stacked",
              show_default=True, help="peft: PEFT's adapter_names (DoRA etc.), slower.")
@click.option("--engine", "engine_kind", type=click.Choice(["lorakit", "vllm"]),
              default="lorakit", show_default=True,
              help="vllm: write and print the vLLM command instead of serving.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="With --engine vllm: folder for the launch script.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def serve(base, adapters, host, port, api_key, insecure_no_key, max_loaded, max_batch,
          queue_limit, max_prompt_tokens, max_new_tokens, timeout_s, max_body_bytes, dtype,
          device, lora_impl, engine_kind, out, fmt) -> None:
    """Serve the base and its adapters over an OpenAI-compatible API.

    \b
    Example:  lorakit serve --adapter support=runs/support --adapter sql
              curl localhost:8000/v1/chat/completions -d '{"model": "support",
                   "messages": [{"role": "user", "content": "hi"}]}'
    """
    names, folders = parse_adapter_flags(adapters)
    if engine_kind == "vllm":
        from lorakit.adapters.export import export_vllm, print_export

        print_export(export_vllm(names, folders=folders, base=base, out=out, host=host,
                                 port=port, api_key=api_key), fmt)
        return
    if not is_loopback(host) and not api_key and not insecure_no_key:
        raise UsageError(f"refusing to serve on {host} without an API key",
                         fix="pass --api-key KEY (or LORAKIT_API_KEY), bind 127.0.0.1, or "
                             "force it with --insecure-no-key")

    import uvicorn

    from lorakit.adapters.registry import Registry
    from lorakit.serve.app import create_app
    from lorakit.serve.runtime import build_engine, infer_base

    registry = Registry()
    for name in names:
        if name not in folders:
            folders[name] = registry.resolve(name)
    engine = build_engine(base or infer_base(registry, names, folders), adapters=folders,
                          registry=registry, max_loaded=max_loaded, dtype=dtype, device=device,
                          lora_impl=lora_impl, max_batch=max_batch, queue_limit=queue_limit,
                          max_prompt_tokens=max_prompt_tokens, max_new_tokens=max_new_tokens,
                          timeout_s=timeout_s)
    info = {"url": f"http://{host}:{port}/v1", "base": engine.base_name,
            "adapters": engine.pool.available(), "loaded": list(engine.pool.loaded),
            "api_key": bool(api_key)}
    if fmt == "json":
        emit_json(info)
    else:
        click.echo(f"serving {engine.base_name} + {len(info['adapters'])} adapter(s) "
                   f"at {info['url']} (key {'required' if api_key else 'not required'})")
    app = create_app(engine, api_key=api_key, max_body_bytes=max_body_bytes)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        engine.shutdown()


@click.command("chat")
@click.option("--adapter", default=None, help="Registered name or folder (default: the base).")
@click.option("--base", default=None, help="Base model (default: the adapter's own base).")
@click.option("--system", default=None, help="A system message for the conversation.")
@click.option("--max-tokens", default=256, show_default=True)
@click.option("--temperature", default=0.7, show_default=True)
@click.option("--dtype", default="auto", show_default=True)
def chat(adapter, base, system, max_tokens, temperature, dtype) -> None:
    """Chat with an adapter (or the base) in the terminal; /reset, /quit.

    \b
    Example:  lorakit chat --adapter support
    """
    from lorakit.adapters.registry import BASE_NAME, Registry
    from lorakit.serve.runtime import build_engine, chat_prompt_ids, infer_base
    from lorakit.serve.sampling import GenParams

    registry = Registry()
    folders = {}
    if adapter:
        path = registry.resolve(adapter)
        name = adapter if registry.find(adapter) else "adapter"
        folders = {name: path}
    engine = build_engine(base or infer_base(registry, list(folders), folders),
                          adapters=folders, registry=registry, dtype=dtype,
                          max_new_tokens=max_tokens)
    target = next(iter(folders), BASE_NAME)
    history = [{"role": "system", "content": system}] if system else []
    click.echo(f"chatting with {adapter or engine.base_name} (/reset, /quit)")
    try:
        _loop(engine, target, history, GenParams(max_tokens=max_tokens,
                                                  temperature=temperature), chat_prompt_ids)
    finally:
        engine.shutdown()


def _loop(engine, target, history, params, render) -> None:
    start = list(history)
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            return
        if line in ("/quit", "/exit"):
            return
        if line == "/reset":
            history[:] = list(start)
            continue
        if not line:
            continue
        history.append({"role": "user", "content": line})
        events: queue.Queue = queue.Queue()
        engine.submit(target, render(engine.tokenizer, history), params, events.put)
        reply = ""
        while True:
            event = events.get()
            if event.kind == "delta":
                reply += event.text
                click.echo(event.text, nl=False)
            else:
                break
        click.echo()
        if event.kind == "error":
            raise LorakitError(event.text)
        history.append({"role": "assistant", "content": reply})
