"""LRCN with spatial and temporal attention ("Where and When Counts: Action Recognition in Videos").

Both attentions come from the LSTM at t-1 (h_0, c_0 from an MLP of the clip's mean feature):

    alpha_t = softmax_i(W_a h_{t-1} + b_a)                 spatial, over the K*K cells (Sharma et al.'s form)
    x^_t    = sum_i alpha_{t,i} x_{t,i};   h_t = LSTM(x^_t, h_{t-1})
    y_t     = softmax(W_y h_t + b_y)                       per-frame class probabilities
    s_t     = w_b^T h_{t-1} + b_b                          temporal score of frame t
    Y       = sum_t beta_t y_t,   logits = log Y

beta by ``temporal``: ``"soft"`` softmax_t(s_t); ``"given"`` mask / sum(mask) from a human frame selection
(``frame_mask`` (B, T), declared in ``extra_inputs``: :mod:`wherewhen.models.inputs`; the selection file is JSON
``{"<video_id>": [cube rows, 0-based]}``); ``"reinforce"`` z / sum(z) with z_t ~ Bernoulli(pi_t), pi_t = sigmoid(s_t)
(z_t = 1[pi_t > 0.5] in evaluation), trained with REINFORCE (Williams 1992):

    reinforce = -lambda_reinforce * mean_b (r_b - baseline_b) sum_t log pi(z_{b,t}),   r = Y[target]

baseline ``"greedy"`` (self-critical, Rennie et al. 2017: the reward of 1[pi > 0.5], from the same y_t) or
``"moving"`` (b <- m b + (1 - m) mean(r)). Regularizer ``doubly_stochastic`` = lambda_ds * mean_b sum_i (1 - sum_t
alpha_{t,i})^2, as alstm.

Outputs: spatial = alpha; temporal = beta (zeros on frames hard attention dropped); frame_logits = W_y h_t + b_y;
with reinforce extras "temporal_prob" (pi) and, in training, "log_prob" and "greedy_temporal".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wherewhen.errors import ConfigError
from wherewhen.losses import doubly_stochastic
from wherewhen.models._heads import log_weighted_probability
from wherewhen.models._lstm import MeanFeatureInit, StackedLSTM
from wherewhen.models._reduce import ChannelReducer, as_rows
from wherewhen.models.base import VideoModel, target_probabilities
from wherewhen.models.inputs import FRAME_MASK
from wherewhen.models.output import ModelOutput
from wherewhen.models.registry import register_model

TEMPORAL_MODES = ("soft", "given", "reinforce")
BASELINES = ("greedy", "moving")


@register_model("lrcn_st")
class SpatioTemporalLRCN(VideoModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        grid: int,
        *,
        reduce_dim: int | None = 128,
        hidden_size: int = 256,
        layers: int = 1,
        dropout: float = 0.5,
        temporal: str = "soft",
        lambda_ds: float = 1.0,
        lambda_reinforce: float = 1.0,
        baseline: str = "greedy",
        baseline_momentum: float = 0.9,
        attend_frame: bool = False,
        attention_size: int = 64,
        deep_output: bool = False,
    ) -> None:
        super().__init__(num_classes, in_channels, grid)
        if temporal not in TEMPORAL_MODES:
            raise ConfigError(f"lrcn_st: temporal must be one of {', '.join(TEMPORAL_MODES)}, got {temporal!r}")
        if not 1 <= layers <= 3:
            raise ConfigError(f"lrcn_st: supports 1 to 3 LSTM layers, got {layers}")
        if baseline not in BASELINES:
            raise ConfigError(f"lrcn_st: baseline must be one of {', '.join(BASELINES)}, got {baseline!r}")
        self.temporal_mode = temporal
        self.baseline = baseline
        self.lambda_ds = lambda_ds
        self.lambda_reinforce = lambda_reinforce
        self.baseline_momentum = baseline_momentum
        self.reduce = ChannelReducer(in_channels, reduce_dim)
        feat = self.reduce.out_channels
        self.init_state = MeanFeatureInit(feat, hidden_size, layers)
        self.lstm = StackedLSTM(feat, hidden_size, layers, dropout)
        self.spatial_scores = nn.Linear(hidden_size, grid * grid)
        self.attend_frame = attend_frame
        if attend_frame:
            self.spatial_scores = nn.Linear(hidden_size, attention_size, bias=False)  # W_h of the attention MLP
            self.att_x = nn.Linear(feat, attention_size)
            self.att_w = nn.Linear(attention_size, 1, bias=False)
        self.context_out = nn.Linear(in_channels, num_classes, bias=False) if deep_output else None
        # soft: a bias cancels in the softmax over frames; reinforce: it sets the keep probability
        self.temporal_score = None if temporal == "given" else nn.Linear(hidden_size, 1, bias=temporal == "reinforce")
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)
        self.register_buffer("reward_baseline", torch.zeros(()))
        self.register_buffer("baseline_ready", torch.zeros((), dtype=torch.bool))

    @property
    def extra_inputs(self) -> tuple[str, ...]:
        return (FRAME_MASK,) if self.temporal_mode == "given" else ()

    def forward(self, cubes: Tensor, flow: Tensor | None = None, frame_mask: Tensor | None = None) -> ModelOutput:
        self.check_input(cubes, flow)
        b, t = cubes.shape[:2]
        rows = as_rows(cubes, self).flatten(2, 3)  # (B, T, L, D)
        slices = self.reduce(rows)  # (B, T, L, R)
        state = self.init_state(slices.mean(dim=(1, 2)))
        keys = self.att_x(slices) if self.attend_frame else None
        alphas, scores, hiddens = [], [], []
        for step in range(t):
            h_prev = state[-1][0]
            if keys is not None:
                energy = self.att_w(torch.tanh(keys[:, step] + self.spatial_scores(h_prev).unsqueeze(1))).squeeze(-1)
            else:
                energy = self.spatial_scores(h_prev)
            alpha = energy.softmax(dim=-1)  # (B, L)
            if self.temporal_score is not None:
                score = self.temporal_score(h_prev).squeeze(-1)
                scores.append(score + torch.logsumexp(energy, dim=-1) if keys is not None else score)
            top, state = self.lstm(self.dropout((alpha.unsqueeze(-1) * slices[:, step]).sum(dim=1)), state)
            alphas.append(alpha)
            hiddens.append(top)
        alpha = torch.stack(alphas, dim=1)
        frame_logits = self.classifier(self.dropout(torch.stack(hiddens, dim=1)))
        if self.context_out is not None:
            context = torch.einsum("btl,btld->btd", alpha, rows)
            frame_logits = frame_logits + self.context_out(self.dropout(context))
        extras: dict[str, Tensor] = {}
        if self.temporal_mode == "soft":
            beta = torch.stack(scores, dim=1).softmax(dim=1)
        elif self.temporal_mode == "given":
            beta = self._given_beta(frame_mask, b, t, frame_logits)
        else:
            beta = self._sampled_beta(torch.stack(scores, dim=1), extras)
        return ModelOutput(
            logits=log_weighted_probability(frame_logits, beta),
            spatial=alpha.view(b, t, self.grid, self.grid),
            temporal=beta,
            frame_logits=frame_logits,
            regularizers={"doubly_stochastic": self.lambda_ds * doubly_stochastic(alpha)},
            extras=extras,
        )

    def _given_beta(self, frame_mask: Tensor | None, b: int, t: int, like: Tensor) -> Tensor:
        if frame_mask is None:
            raise ConfigError("lrcn_st with temporal='given' needs frame_mask (B, T) from a frame selection file")
        if tuple(frame_mask.shape) != (b, t):
            raise ConfigError(f"lrcn_st: frame_mask must have shape {(b, t)}, got {tuple(frame_mask.shape)}")
        mask = (frame_mask > 0).to(like.dtype).to(like.device)
        if bool((mask.sum(dim=1) == 0).any()):
            raise ConfigError("lrcn_st: every video needs at least one selected frame in frame_mask")
        return mask / mask.sum(dim=1, keepdim=True)

    def _sampled_beta(self, scores: Tensor, extras: dict[str, Tensor]) -> Tensor:
        prob = torch.sigmoid(scores)  # (B, T) probability of keeping each frame
        extras["temporal_prob"] = prob
        greedy = _normalized_selection((prob > 0.5).to(prob.dtype), prob)
        if not self.training:
            return greedy
        keep = torch.bernoulli(prob.detach())
        extras["log_prob"] = -F.binary_cross_entropy_with_logits(scores, keep, reduction="none").sum(dim=1)
        extras["greedy_temporal"] = greedy.detach()
        return _normalized_selection(keep, prob)

    def loss_terms(self, output: ModelOutput, targets: Tensor) -> dict[str, Tensor]:
        terms = super().loss_terms(output, targets)
        if self.temporal_mode != "reinforce":
            return terms
        log_prob = output.extras.get("log_prob")
        if log_prob is None:  # evaluation: deterministic hard attention, nothing to reinforce
            terms["reinforce"] = output.logits.new_zeros(())
            return terms
        with torch.no_grad():
            reward = (output.logits.exp() * target_probabilities(targets, self.num_classes)).sum(dim=1)
            advantage = reward - self._baseline(output, targets, reward)
        terms["reinforce"] = -self.lambda_reinforce * (advantage * log_prob).mean()
        return terms

    def _baseline(self, output: ModelOutput, targets: Tensor, reward: Tensor) -> Tensor:
        if self.baseline == "greedy":  # self-critical: the reward of the deterministic selection, per video
            assert output.frame_logits is not None
            greedy = output.extras["greedy_temporal"].unsqueeze(-1) * output.frame_logits.softmax(dim=-1)
            return (greedy.sum(dim=1) * target_probabilities(targets, self.num_classes)).sum(dim=1)
        if not bool(self.baseline_ready):
            self.reward_baseline.fill_(reward.mean())
            self.baseline_ready.fill_(True)
        baseline = self.reward_baseline.clone()
        m = self.baseline_momentum
        self.reward_baseline.mul_(m).add_((1 - m) * reward.mean())
        return baseline


def _normalized_selection(keep: Tensor, prob: Tensor) -> Tensor:
    """beta = keep / sum(keep); a video with nothing kept keeps its most likely frame (a deterministic function of
    pi, so the REINFORCE log-probability of the Bernoulli draws stays the right one)."""
    best = F.one_hot(prob.argmax(dim=1), prob.shape[1]).to(prob.dtype)
    keep = torch.where(keep.sum(dim=1, keepdim=True) > 0, keep, best)
    return keep / keep.sum(dim=1, keepdim=True)
