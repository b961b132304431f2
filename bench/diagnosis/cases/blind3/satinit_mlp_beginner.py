# source: https://datascience.stackexchange.com/questions/16911/how-does-sigmoid-saturate-with-large-weights
# expect: saturated-activations, vanishing-gradients
# category: classification
# bug: sigmoid MLP whose weights are initialised with nn.init.normal_(std=1) on 100 inputs: pre-activations ~10, sigmoids saturate, gradients vanish
import torch
import torch.nn as nn

torch.manual_seed(20)

X = torch.randn(2000, 100)
w_true = torch.randn(100)
y = ((X @ w_true) > 0).long()

model = nn.Sequential(
    nn.Linear(100, 128), nn.Sigmoid(),
    nn.Linear(128, 128), nn.Sigmoid(),
    nn.Linear(128, 128), nn.Sigmoid(),
    nn.Linear(128, 2),
)
for layer in model:
    if isinstance(layer, nn.Linear):
        nn.init.normal_(layer.weight, mean=0.0, std=1.0)
        nn.init.normal_(layer.bias, mean=0.0, std=1.0)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

for epoch in range(10):
    for i in range(0, 2000, 64):
        xb, yb = X[i:i + 64], y[i:i + 64]
        loss = criterion(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        acc = (model(X).argmax(1) == y).float().mean()
    print("epoch", epoch, "loss", round(loss.item(), 4), "acc", round(acc.item(), 3))
