/** A program that imports only @ggem/tensor: its bundle's size is the core's cost to an app. */
import { matmul, randn } from '@ggem/tensor';

const a = randn([64, 64], { requiresGrad: true });
matmul(a, a).sum().backward();
(globalThis as { result?: number }).result = a.grad!.data[0];
