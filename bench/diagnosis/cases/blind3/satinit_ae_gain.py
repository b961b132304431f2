# source: https://github.com/karpathy/nn-zero-to-hero/issues/66
# expect: saturated-activations
# category: vae
# bug: init helper uses xavier_normal_ with gain=20 (meant as a "strong" init) in a sigmoid autoencoder: the code layer and the decoder sigmoids saturate at 0/1
import torch
import torch.nn as nn

torch.manual_seed(24)

HP = dict(in_dim=64, hidden=128, code=8, lr=1e-3, steps=300, batch=64, init_gain=20.0)

# data lying on an 8-dim nonlinear manifold, values in (0, 1)
latent = torch.randn(2048, 8)
mix = torch.randn(8, 64)
data = torch.sigmoid(latent @ mix / 2)


def make_layer(n_in, n_out, gain):
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_normal_(layer.weight, gain=gain)
    nn.init.zeros_(layer.bias)
    return layer


class AutoEncoder(nn.Module):
    def __init__(self, hp):
        super().__init__()
        g = hp["init_gain"]
        self.encoder = nn.Sequential(make_layer(hp["in_dim"], hp["hidden"], g), nn.Sigmoid(),
                                     make_layer(hp["hidden"], hp["code"], g), nn.Sigmoid())
        self.decoder = nn.Sequential(make_layer(hp["code"], hp["hidden"], g), nn.Sigmoid(),
                                     make_layer(hp["hidden"], hp["in_dim"], g), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def run(hp):
    model = AutoEncoder(hp)
    opt = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    for step in range(hp["steps"]):
        idx = torch.randint(0, data.size(0), (hp["batch"],))
        xb = data[idx]
        recon = model(xb)
        loss = nn.functional.mse_loss(recon, xb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == hp["steps"] - 1:
            print(f"step {step:3d} recon mse {loss.item():.5f}")


run(HP)
