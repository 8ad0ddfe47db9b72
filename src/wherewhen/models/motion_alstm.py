"""Convolutional attention LSTM with motion-based attention (VideoLSTM, Li et al.: "derives attention from what
moves in video").

Optical flow between consecutive frames is rendered to 3-channel images (``wherewhen.video.flow.flow_image``) and
passed through the same backbone, giving flow cubes F_t of the cubes' shape. They get their own 1x1 reduction and
replace the appearance in the attention net; the appearance still feeds the ConvLSTM:

    F~_t = ReLU(W_f F_t + b_f)                                   (1x1 reduction of the flow cube)
    Z_t  = W_z * tanh(W_fa * F~_t + W_ha * H_{t-1} + b_a)
    A_t  = softmax over the K x K cells of Z_t
    X~_t = K^2 A_t . X_t,   H_t, C_t = ConvLSTM(X~_t, H_{t-1}, C_{t-1}),   logits = (1/T) sum_t W pool(H_t) + b

Everything else (keyword arguments and defaults, state init from the mean appearance cube, pooling, outputs) is
as in conv_alstm. forward(cubes, flow) needs flow cubes of the same shape as cubes.
"""

from __future__ import annotations

from wherewhen.models.conv_alstm import ConvAttentionLSTM
from wherewhen.models.registry import register_model


@register_model("motion_alstm")
class MotionALSTM(ConvAttentionLSTM):
    uses_flow = True
