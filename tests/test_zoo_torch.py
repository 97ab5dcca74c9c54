"""Zoo specs compute the function of their reference implementation, weight for weight.

NOTE: torchvision is not a dependency, so the references here are small re-statements of
torchvision's ResNet/ResNeXt and DenseNet modules (its attribute names, strides, paddings,
biases and BN eps). The spec's module has torchvision's names, so it loads the
reference's state_dict as it is (strict), and a misplaced stride, a stray bias or a
missing layer fails either the loading or the comparison of outputs. (tests/
test_zoo_reference.py checks every torchvision network against torchvision's own outputs.)
"""
from collections import OrderedDict

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import cnndsl  # noqa: E402

from .conftest import ZOO  # noqa: E402
from .torch_helpers import randomise_batchnorm  # noqa: E402


def conv_bn(c_in, c_out, k, s=1, p=0, g=1):
    return nn.Conv2d(c_in, c_out, k, s, p, groups=g, bias=False), nn.BatchNorm2d(c_out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in, c, s, g=1, width=64):
        super().__init__()
        mid = c * width // 64 * g
        self.conv1, self.bn1 = conv_bn(c_in, mid, 1)
        self.conv2, self.bn2 = conv_bn(mid, mid, 3, s, 1, g)
        self.conv3, self.bn3 = conv_bn(mid, 4 * c, 1)
        self.downsample = nn.Sequential(*conv_bn(c_in, 4 * c, 1, s)) \
            if s != 1 or c_in != 4 * c else None

    def forward(self, x):
        y = self.bn1(self.conv1(x)).relu()
        y = self.bn2(self.conv2(y)).relu()
        y = self.bn3(self.conv3(y))
        return (y + (self.downsample(x) if self.downsample else x)).relu()


class Basic(nn.Module):
    expansion = 1

    def __init__(self, c_in, c, s, g=1, width=64):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(c_in, c, 3, s, 1)
        self.conv2, self.bn2 = conv_bn(c, c, 3, 1, 1)
        self.downsample = nn.Sequential(*conv_bn(c_in, c, 1, s)) \
            if s != 1 or c_in != c else None

    def forward(self, x):
        y = self.bn2(self.conv2(self.bn1(self.conv1(x)).relu()))
        return (y + (self.downsample(x) if self.downsample else x)).relu()


class ResNet(nn.Module):
    def __init__(self, block, depths, g=1, width=64):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 64, 7, 2, 3)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, (c, n) in enumerate(zip((64, 128, 256, 512), depths)):
            blocks = []
            for j in range(n):
                blocks.append(block(c_in, c, 2 if i and not j else 1, g, width))
                c_in = c * block.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(c_in, 1000)

    def forward(self, x):
        x = self.maxpool(self.bn1(self.conv1(x)).relu())
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


class DenseLayer(nn.Module):
    def __init__(self, c_in, k):
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(c_in), nn.Conv2d(c_in, 4 * k, 1, bias=False)
        self.norm2, self.conv2 = nn.BatchNorm2d(4 * k), nn.Conv2d(4 * k, k, 3, 1, 1, bias=False)

    def forward(self, x):
        return self.conv2(self.norm2(self.conv1(self.norm1(x).relu())).relu())


class DenseNet(nn.Module):
    def __init__(self, c0, k, depths):
        super().__init__()
        f = nn.Sequential()
        f.conv0, f.norm0 = nn.Conv2d(3, c0, 7, 2, 3, bias=False), nn.BatchNorm2d(c0)
        f.relu0, f.pool0 = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        c = c0
        for i, n in enumerate(depths):
            block = nn.ModuleDict()
            for j in range(n):
                block[f"denselayer{j + 1}"] = DenseLayer(c + j * k, k)
            setattr(f, f"denseblock{i + 1}", block)
            c += n * k
            if i < len(depths) - 1:
                setattr(f, f"transition{i + 1}", nn.Sequential(OrderedDict(
                    norm=nn.BatchNorm2d(c), relu=nn.ReLU(),
                    conv=nn.Conv2d(c, c // 2, 1, bias=False), pool=nn.AvgPool2d(2))))
                c //= 2
        f.norm5 = nn.BatchNorm2d(c)
        self.features, self.classifier = f, nn.Linear(c, 1000)

    def forward(self, x):
        for name, module in self.features.named_children():
            if name.startswith("denseblock"):
                for layer in module.values():
                    x = torch.cat([x, layer(x)], 1)
            else:
                x = module(x)
        return self.classifier(x.relu().mean((2, 3)))


def vgg(config, batch_norm):
    layers, c_in = [], 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c_in, v, 3, padding=1))
        layers += [nn.BatchNorm2d(v), nn.ReLU()] if batch_norm else [nn.ReLU()]
        c_in = v
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                         nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000))


def alexnet():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.AdaptiveAvgPool2d(6), nn.Flatten(), nn.Dropout(), nn.Linear(256 * 6 * 6, 4096),
        nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))


REFERENCES = {
    "resnet18": lambda: ResNet(Basic, (2, 2, 2, 2)),
    "resnet50": lambda: ResNet(Bottleneck, (3, 4, 6, 3)),
    "resnext50_32x4d": lambda: ResNet(Bottleneck, (3, 4, 6, 3), g=32, width=4),
    "densenet121": lambda: DenseNet(64, 32, (6, 12, 24, 16)),
}


# These read 224x224 (their flatten fixes the size); weights pair up in module order.
IN_ORDER = {
    "alexnet": alexnet,
    "vgg11_bn": lambda: vgg([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
                            batch_norm=True),
}


def assert_computes_the_reference(stem, make_reference, state_for, x_shape):
    """The spec's module, given the reference's weights through `state_for(model,
    reference)`, computes what the reference computes."""
    torch.manual_seed(0)
    reference = make_reference().eval()
    randomise_batchnorm(reference)
    model = cnndsl.load(ZOO / f"{stem}.cnn").eval()
    model.load_state_dict(state_for(model, reference), strict=True)
    x = torch.randn(*x_shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stem", sorted(IN_ORDER))
def test_spec_computes_its_reference_in_order(stem):
    def in_order(model, reference):
        names = list(model.state_dict())
        values = list(reference.state_dict().values())
        assert len(names) == len(values)
        return dict(zip(names, values))
    assert_computes_the_reference(stem, IN_ORDER[stem], in_order, (1, 3, 224, 224))


@pytest.mark.parametrize("stem", sorted(REFERENCES))
def test_spec_computes_its_reference(stem):
    def by_name(model, reference):
        return reference.state_dict()
    assert_computes_the_reference(stem, REFERENCES[stem], by_name, (2, 3, 64, 64))
