# source: https://github.com/rbgirshick/py-faster-rcnn/issues/727
# expect: loss-imbalance, metric-competing-losses
# category: regression
# bug: PINN for u''(x) = -(k*pi)^2 sin(k*pi x) + shift with u(0)=1, u(1)=2: the residual is O(1e3-1e4) while the boundary term is O(1) and weighted 0.1, so the boundary conditions are never learned and the solution is off by a linear function
import math
import torch
import torch.nn as nn

torch.manual_seed(15)

K = 4
W_RES, W_BC = 1.0, 0.1


def forcing(x):
    return -(K * math.pi) ** 2 * torch.sin(K * math.pi * x)


def exact(x):
    return torch.sin(K * math.pi * x) + 1.0 + x


net = nn.Sequential(nn.Linear(1, 48), nn.Tanh(), nn.Linear(48, 48), nn.Tanh(), nn.Linear(48, 1))
opt = torch.optim.Adam(net.parameters(), lr=2e-3)
xb = torch.tensor([[0.0], [1.0]])
ub = torch.tensor([[1.0], [2.0]])


def pde_residual(x):
    x = x.requires_grad_(True)
    u = net(x)
    du = torch.autograd.grad(u.sum(), x, create_graph=True)[0]
    d2u = torch.autograd.grad(du.sum(), x, create_graph=True)[0]
    return d2u - forcing(x)


for it in range(1, 301):
    xc = torch.rand(128, 1)
    res = pde_residual(xc)
    loss_res = (res ** 2).mean()
    loss_bc = ((net(xb) - ub) ** 2).mean()
    loss = W_RES * loss_res + W_BC * loss_bc
    opt.zero_grad()
    loss.backward()
    opt.step()
    if it == 1 or it % 50 == 0:
        with torch.no_grad():
            xt = torch.linspace(0, 1, 101).unsqueeze(1)
            err = (net(xt) - exact(xt)).abs().max().item()
        print(f"it {it:4d} residual {loss_res.item():10.3f} bc {loss_bc.item():.4f} max err {err:.3f}")
