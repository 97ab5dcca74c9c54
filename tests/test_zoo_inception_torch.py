"""The Inception zoo computes its reference implementations' function, weight for weight.

NOTE: neither torchvision nor Cadene's pretrainedmodels is a dependency, so the references
are compact re-statements of their modules: torchvision's GoogLeNet and Inception3, and
the TF-Slim ports of BN-Inception, Inception-v4 and Inception-ResNet-v2 (conv biases, BN
eps, paddings, ceil modes, average pooling with or without the padding, residual scales).
Each reference registers its weights in the order the spec writes its layers, so the
state dicts pair up in order; a wrong shape fails the strict loading, a wrong stride,
pooling mode or scale the comparison of outputs. The auxiliary heads run in training
only, so they are left out of both sides and checked by their published counts instead.
"""
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import cnndsl  # noqa: E402

from .conftest import ZOO  # noqa: E402
from .torch_helpers import randomise_batchnorm  # noqa: E402

seq = nn.Sequential


def basic(c_in, c, k=1, s=1, p=0, eps=1e-3, bias=False):
    """conv, BN, ReLU: torchvision's BasicConv2d (or Caffe's conv with bias for BN-Inception)."""
    return seq(nn.Conv2d(c_in, c, k, s, p, bias=bias), nn.BatchNorm2d(c, eps=eps), nn.ReLU())


def row(c_in, c, n=7):
    return basic(c_in, c, (1, n), p=(0, n // 2))


def col(c_in, c, n=7):
    return basic(c_in, c, (n, 1), p=(n // 2, 0))


class Concat(nn.Module):
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class ScaledResidual(nn.Module):
    """Inception-ResNet: x + scale * up(branches(x)), then ReLU unless it is the last."""

    def __init__(self, branches, c_mid, c, scale, relu=True):
        super().__init__()
        self.branches, self.up = branches, nn.Conv2d(c_mid, c, 1)
        self.scale, self.relu = scale, relu

    def forward(self, x):
        y = x + self.up(self.branches(x)) * self.scale
        return y.relu() if self.relu else y


class Head(nn.Module):
    def __init__(self, c, dropout=0.0):
        super().__init__()
        self.dropout, self.fc = nn.Dropout(dropout), nn.Linear(c, 1000)

    def forward(self, x):
        return self.fc(self.dropout(x.mean((2, 3))))


def avg_same():
    return nn.AvgPool2d(3, 1, 1, count_include_pad=False)


def googlenet():
    def module(c_in, a, b3r, b3, b5r, b5, pp):
        return Concat(basic(c_in, a), seq(basic(c_in, b3r), basic(b3r, b3, 3, p=1)),
                      seq(basic(c_in, b5r), basic(b5r, b5, 3, p=1)),  # torchvision's 3x3
                      seq(nn.MaxPool2d(3, 1, 1, ceil_mode=True), basic(c_in, pp)))

    def pool(k=3):
        return nn.MaxPool2d(k, 2, ceil_mode=True)
    return seq(basic(3, 64, 7, 2, 3), pool(), basic(64, 64), basic(64, 192, 3, p=1), pool(),
               module(192, 64, 96, 128, 16, 32, 32), module(256, 128, 128, 192, 32, 96, 64),
               pool(), module(480, 192, 96, 208, 16, 48, 64),
               module(512, 160, 112, 224, 24, 64, 64), module(512, 128, 128, 256, 24, 64, 64),
               module(512, 112, 144, 288, 32, 64, 64), module(528, 256, 160, 320, 32, 128, 128),
               pool(2), module(832, 256, 160, 320, 32, 128, 128),
               module(832, 384, 192, 384, 48, 128, 128), Head(1024, 0.2))


def inception_v3():
    def a(c_in, pool):
        return Concat(basic(c_in, 64), seq(basic(c_in, 48), basic(48, 64, 5, p=2)),
                      seq(basic(c_in, 64), basic(64, 96, 3, p=1), basic(96, 96, 3, p=1)),
                      seq(nn.AvgPool2d(3, 1, 1), basic(c_in, pool)))

    def c(c7):
        return Concat(basic(768, 192), seq(basic(768, c7), row(c7, c7), col(c7, 192)),
                      seq(basic(768, c7), col(c7, c7), row(c7, c7), col(c7, c7), row(c7, 192)),
                      seq(nn.AvgPool2d(3, 1, 1), basic(768, 192)))

    def e(c_in):
        return Concat(basic(c_in, 320),
                      seq(basic(c_in, 384), Concat(row(384, 384, 3), col(384, 384, 3))),
                      seq(basic(c_in, 448), basic(448, 384, 3, p=1),
                          Concat(row(384, 384, 3), col(384, 384, 3))),
                      seq(nn.AvgPool2d(3, 1, 1), basic(c_in, 192)))
    return seq(basic(3, 32, 3, 2), basic(32, 32, 3), basic(32, 64, 3, p=1), nn.MaxPool2d(3, 2),
               basic(64, 80), basic(80, 192, 3), nn.MaxPool2d(3, 2),
               a(192, 32), a(256, 64), a(288, 64),
               Concat(basic(288, 384, 3, 2),
                      seq(basic(288, 64), basic(64, 96, 3, p=1), basic(96, 96, 3, 2)),
                      nn.MaxPool2d(3, 2)),
               c(128), c(160), c(160), c(192),
               Concat(seq(basic(768, 192), basic(192, 320, 3, 2)),
                      seq(basic(768, 192), row(192, 192), col(192, 192), basic(192, 192, 3, 2)),
                      nn.MaxPool2d(3, 2)),
               e(1280), e(2048), Head(2048, 0.5))


def bn_inception():
    def cbr(c_in, c, k=1, s=1, p=0):
        return basic(c_in, c, k, s, p, eps=1e-5, bias=True)

    def module(c_in, a, b3r, b3, dr, d, pp, pool=nn.AvgPool2d):
        return Concat(cbr(c_in, a), seq(cbr(c_in, b3r), cbr(b3r, b3, 3, p=1)),
                      seq(cbr(c_in, dr), cbr(dr, d, 3, p=1), cbr(d, d, 3, p=1)),
                      seq(pool(3, 1, 1, ceil_mode=True), cbr(c_in, pp)))

    def reduce(c_in, b3r, b3, dr, d):
        return Concat(seq(cbr(c_in, b3r), cbr(b3r, b3, 3, 2, 1)),
                      seq(cbr(c_in, dr), cbr(dr, d, 3, p=1), cbr(d, d, 3, 2, 1)),
                      nn.MaxPool2d(3, 2, ceil_mode=True))
    return seq(cbr(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True), cbr(64, 64),
               cbr(64, 192, 3, p=1), nn.MaxPool2d(3, 2, ceil_mode=True),
               module(192, 64, 64, 64, 64, 96, 32), module(256, 64, 64, 96, 64, 96, 64),
               reduce(320, 128, 160, 64, 96), module(576, 224, 64, 96, 96, 128, 128),
               module(576, 192, 96, 128, 96, 128, 128), module(576, 160, 128, 160, 128, 160, 128),
               module(608, 96, 128, 192, 160, 192, 128), reduce(608, 128, 192, 192, 256),
               module(1056, 352, 192, 320, 160, 224, 128),
               module(1024, 352, 192, 320, 192, 224, 128, pool=nn.MaxPool2d), Head(1024))


def reduction_a(c_in, k, l_, m, n):  # table 1's k, l, m, n
    return Concat(basic(c_in, n, 3, 2), seq(basic(c_in, k), basic(k, l_, 3, p=1),
                                            basic(l_, m, 3, 2)), nn.MaxPool2d(3, 2))


def inception_v4():
    a = lambda: Concat(basic(384, 96), seq(basic(384, 64), basic(64, 96, 3, p=1)),  # noqa: E731
                       seq(basic(384, 64), basic(64, 96, 3, p=1), basic(96, 96, 3, p=1)),
                       seq(avg_same(), basic(384, 96)))
    b = lambda: Concat(basic(1024, 384),  # noqa: E731
                       seq(basic(1024, 192), row(192, 224), col(224, 256)),
                       seq(basic(1024, 192), col(192, 192), row(192, 224), col(224, 224),
                           row(224, 256)),
                       seq(avg_same(), basic(1024, 128)))
    c = lambda: Concat(basic(1536, 256),  # noqa: E731
                       seq(basic(1536, 384), Concat(row(384, 256, 3), col(384, 256, 3))),
                       seq(basic(1536, 384), col(384, 448, 3), row(448, 512, 3),
                           Concat(row(512, 256, 3), col(512, 256, 3))),
                       seq(avg_same(), basic(1536, 256)))
    stem = seq(basic(3, 32, 3, 2), basic(32, 32, 3), basic(32, 64, 3, p=1),
               Concat(nn.MaxPool2d(3, 2), basic(64, 96, 3, 2)),
               Concat(seq(basic(160, 64), basic(64, 96, 3)),
                      seq(basic(160, 64), row(64, 64), col(64, 64), basic(64, 96, 3))),
               Concat(basic(192, 192, 3, 2), nn.MaxPool2d(3, 2)))
    reduction_b = Concat(seq(basic(1024, 192), basic(192, 192, 3, 2)),
                         seq(basic(1024, 256), row(256, 256), col(256, 320),
                             basic(320, 320, 3, 2)), nn.MaxPool2d(3, 2))
    return seq(stem, *[a() for _ in range(4)], reduction_a(384, 192, 224, 256, 384),
               *[b() for _ in range(7)], reduction_b, *[c() for _ in range(3)], Head(1536))


def inception_resnet_v2():
    ir_a = lambda: ScaledResidual(Concat(  # noqa: E731
        basic(320, 32), seq(basic(320, 32), basic(32, 32, 3, p=1)),
        seq(basic(320, 32), basic(32, 48, 3, p=1), basic(48, 64, 3, p=1))), 128, 320, 0.17)
    ir_b = lambda: ScaledResidual(Concat(  # noqa: E731
        basic(1088, 192), seq(basic(1088, 128), row(128, 160), col(160, 192))), 384, 1088, 0.1)
    ir_c = lambda scale=0.2, relu=True: ScaledResidual(Concat(  # noqa: E731
        basic(2080, 192), seq(basic(2080, 192), row(192, 224, 3), col(224, 256, 3))),
        448, 2080, scale, relu)
    stem = seq(basic(3, 32, 3, 2), basic(32, 32, 3), basic(32, 64, 3, p=1), nn.MaxPool2d(3, 2),
               basic(64, 80), basic(80, 192, 3), nn.MaxPool2d(3, 2))
    mixed_5b = Concat(basic(192, 96), seq(basic(192, 48), basic(48, 64, 5, p=2)),
                      seq(basic(192, 64), basic(64, 96, 3, p=1), basic(96, 96, 3, p=1)),
                      seq(avg_same(), basic(192, 64)))
    mixed_7a = Concat(seq(basic(1088, 256), basic(256, 384, 3, 2)),
                      seq(basic(1088, 256), basic(256, 288, 3, 2)),
                      seq(basic(1088, 256), basic(256, 288, 3, p=1), basic(288, 320, 3, 2)),
                      nn.MaxPool2d(3, 2))
    return seq(stem, mixed_5b, *[ir_a() for _ in range(10)],
               reduction_a(320, 256, 256, 384, 384), *[ir_b() for _ in range(20)], mixed_7a,
               *[ir_c() for _ in range(9)], ir_c(1.0, relu=False), basic(2080, 1536),
               Head(1536))


# stem: (reference, input size, the spec's aux-head scopes). Small inputs keep this quick
# (the aux heads, which need larger grids, do not run in eval mode); at 75x75 padding covers
# most of the late grids' windows, so a pooling that counts it, or not, shows.
REFERENCES = {
    "googlenet": (googlenet, 96, ("aux1.", "aux2.")),
    "inception_v3": (inception_v3, 75, ("AuxLogits.",)),
    "bn_inception": (bn_inception, 96, ()),
    "inception_v4": (inception_v4, 75, ()),
    "inception_resnet_v2": (inception_resnet_v2, 75, ()),
}


@pytest.mark.parametrize("stem", sorted(REFERENCES))
def test_spec_computes_its_reference(stem):
    make_reference, size, aux_scopes = REFERENCES[stem]
    torch.manual_seed(0)
    reference = make_reference().eval()
    randomise_batchnorm(reference)
    model = cnndsl.load(ZOO / f"{stem}.cnn").eval()  # its layers fix no input size
    names = [n for n in model.state_dict() if not n.startswith(aux_scopes)]
    values = list(reference.state_dict().values())
    assert len(names) == len(values)
    missing, unexpected = model.load_state_dict(dict(zip(names, values)), strict=False)
    assert not unexpected and all(n.startswith(aux_scopes) for n in missing)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)
