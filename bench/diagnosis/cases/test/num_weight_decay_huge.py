# source: https://github.com/BVLC/caffe/issues/1396
# expect: weight-decay-too-high, over-regularization
# category: regression
# bug: weight_decay is set to 0.5 (meant 5e-4); the L2 pull dominates the data gradient, the weights shrink towards zero and the network outputs nearly the same value for every input, so the MSE stays at the variance of the targets
import torch
import torch.nn as nn

torch.manual_seed(8)

# keypoint regression: predict 2 coordinates from a 24-d descriptor
N, D = 2048, 24
X = torch.randn(N, D)
A = torch.randn(D, 2) / D ** 0.5
Y = torch.tanh(X @ A) * 3.0 + 0.1 * torch.randn(N, 2)


class KeypointNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(D, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 2)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


net = KeypointNet()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=0.5)

for epoch in range(15):
    perm = torch.randperm(N)
    for i in range(0, N, 64):
        idx = perm[i:i + 64]
        loss = ((net(X[idx]) - Y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        spread = net(X[:256]).std(0).mean().item()
    print(f"epoch {epoch:2d}  mse {loss.item():.4f}  output std {spread:.4f}  target var {Y.var(0).mean().item():.4f}")
