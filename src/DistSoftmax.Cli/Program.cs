Console.WriteLine("dist-softmax");
