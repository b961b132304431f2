"""Synthetic data for the data benchmark and its tests: driving logs from a kinematic bicycle model,
robot demonstrations from scripted policies, and tables. Every generator takes a seed and returns a
pandas DataFrame (or a dict of arrays); the faults are planted by the cases, on top of these."""

from __future__ import annotations

import numpy as np
import pandas as pd

WHEELBASE = 2.7  # metres
LATERAL_MAX = 6.0  # m/s^2, a driver's cornering


def _ou(r: np.random.Generator, n: int, scale: float, theta: float = 0.1) -> np.ndarray:
    """A smooth random signal (Ornstein-Uhlenbeck), unit-free."""
    out = np.zeros(n)
    for i in range(1, n):
        out[i] = out[i - 1] * (1 - theta) + r.normal(0, scale)
    return out


def bicycle(r: np.random.Generator, steps: int, dt: float, speed0: float, offset: np.ndarray) -> dict[str, np.ndarray]:
    """One vehicle: smooth random acceleration and steering through a kinematic bicycle model, positions
    with 5 cm of measurement noise."""
    accel = np.clip(_ou(r, steps, 0.3), -4.0, 2.5)
    steer = np.clip(_ou(r, steps, 0.01), -0.5, 0.5)
    x, y, psi, v = offset[0], offset[1], r.uniform(-np.pi, np.pi), speed0
    out = {k: np.zeros(steps) for k in ("x", "y", "heading", "speed", "accel", "steer")}
    for i in range(steps):
        # a driver keeps the lateral acceleration v^2 tan(steer) / L under 6 m/s^2
        limit = np.arctan(WHEELBASE * LATERAL_MAX / max(v * v, 1e-6))
        steer_i = float(np.clip(steer[i], -limit, limit))
        out["x"][i], out["y"][i], out["heading"][i], out["speed"][i] = x, y, psi, v
        out["accel"][i], out["steer"][i] = accel[i], steer_i
        x += v * np.cos(psi) * dt
        y += v * np.sin(psi) * dt
        psi = (psi + v / WHEELBASE * np.tan(steer_i) * dt + np.pi) % (2 * np.pi) - np.pi
        v = float(np.clip(v + accel[i] * dt, 0.0, 35.0))
    out["x"] += r.normal(0, 0.05, steps)
    out["y"] += r.normal(0, 0.05, steps)
    return out


def driving_log(seed: int, episodes: int = 60, steps: int = 80, dt: float = 0.1, horizon: int = 5,
                world: bool = True, first_episode: int = 0) -> pd.DataFrame:
    """Rows are time steps; per episode one vehicle. `target_x`/`target_y`: the offset to the position
    `horizon` steps ahead (the last `horizon` steps of each episode have no target and are dropped)."""
    r = np.random.default_rng(seed)
    parts = []
    for k in range(episodes):
        offset = r.uniform(-3000, 3000, 2) if world else np.zeros(2)
        ep = bicycle(r, steps + horizon, dt, r.uniform(2, 25), offset)
        if not world:  # an ego frame at the episode's first step: the vehicle starts at the origin facing +x
            ep = _to_first_frame(ep)
        frame = pd.DataFrame({k2: v[:steps] for k2, v in ep.items()})
        frame["target_x"] = ep["x"][horizon:horizon + steps] - ep["x"][:steps]
        frame["target_y"] = ep["y"][horizon:horizon + steps] - ep["y"][:steps]
        frame.insert(0, "time", 1000.0 * k + dt * np.arange(steps))
        frame.insert(0, "episode", first_episode + k)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


def _to_first_frame(ep: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x0, y0, h0 = ep["x"][0], ep["y"][0], ep["heading"][0]
    c, s = np.cos(-h0), np.sin(-h0)
    dx, dy = ep["x"] - x0, ep["y"] - y0
    return {**ep, "x": c * dx - s * dy, "y": s * dx + c * dy,
            "heading": (ep["heading"] - h0 + np.pi) % (2 * np.pi) - np.pi}


def reach_demos(seed: int, episodes: int = 80, steps: int = 50, dt: float = 0.1, obstacle: str = "none",
                first_episode: int = 0, lag: int = 0) -> dict[str, np.ndarray]:
    """A scripted reaching policy: a 2-D end effector moves towards a goal with a velocity command (noisy),
    the gripper closes near the goal. obs = (x, y, goal_x, goal_y); action = (vx, vy, gripper).
    `obstacle`: "none"; "random" — an obstacle lies across the way and each demonstrator passes it on a side
    drawn at random, and the observation (progress y, goal x, distance) does not show the side taken: actions
    bimodal for one observation; "by-side" — the same observation, the side follows the goal's x (a
    deterministic policy that switches). `lag`: actions recorded `lag` steps late."""
    r = np.random.default_rng(seed)
    obs, act, ep_ids, ts = [], [], [], []
    for k in range(episodes):
        pos = r.uniform(-1, 1, 2) if obstacle == "none" else np.array([r.normal(0, 0.05), -2.0])
        goal = r.uniform(-2, 2, 2) if obstacle == "none" else np.array([r.uniform(-0.5, 0.5), 2.0])
        side = r.choice([-1.0, 1.0]) if obstacle == "random" else (1.0 if goal[0] >= 0 else -1.0)
        commands, states = [], []
        for i in range(steps):
            to_goal = goal - pos
            v = np.clip(1.5 * to_goal, -1.0, 1.0)
            if obstacle != "none" and -1.5 < pos[1] < 1.0:  # around the obstacle on one side
                v = np.array([side * 0.8, 0.8])
            v = v + r.normal(0, 0.05, 2)
            grip = 1.0 if np.linalg.norm(to_goal) < 0.3 else 0.0
            seen = np.concatenate([pos, goal]) if obstacle == "none" else \
                np.array([pos[1], goal[0], goal[1], np.linalg.norm(to_goal)])
            states.append(seen)
            commands.append(np.array([v[0], v[1], grip]))
            pos = pos + v * dt + r.normal(0, 0.002, 2)
        commands = np.array(commands)
        if lag:
            commands = np.vstack([np.repeat(commands[:1], lag, 0), commands[:-lag]])
        obs.append(np.array(states))
        act.append(commands)
        ep_ids.append(np.full(steps, first_episode + k))
        ts.append(dt * np.arange(steps))
    return {"episode": np.concatenate(ep_ids), "time": np.concatenate(ts), "obs": np.vstack(obs),
            "action": np.vstack(act)}


def table(seed: int, n: int = 4000, classes: bool = True) -> pd.DataFrame:
    """A tabular task: five features of different kinds and a label (or a regression target) that depends
    on them with noise (no single feature gives it away)."""
    r = np.random.default_rng(seed)
    df = pd.DataFrame({"age": r.normal(45, 12, n).round(), "income": r.lognormal(10, 0.6, n),
                       "visits": r.poisson(3, n).astype(float), "score": r.normal(0, 1, n),
                       "ratio": r.beta(2, 5, n)})
    z = 0.04 * (df["age"] - 45) + 0.8 * df["score"] + 0.3 * (df["visits"] - 3) + r.normal(0, 1.0, n)
    if classes:
        df["label"] = (z > 0.3).astype(int) + (z > 1.5).astype(int)
    else:
        df["target"] = z
    return df
