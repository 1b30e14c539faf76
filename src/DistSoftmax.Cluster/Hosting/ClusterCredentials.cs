using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Transport.DotNetty;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A cluster's shared secret for Akka.Remote TLS with mutual authentication: one self-signed certificate and its private
/// key (no CA), <c>cluster.pfx</c>, encrypted with the generated password in <c>cluster.password</c>. Every node of the
/// cluster uses the same pair; a peer is accepted only when it presents exactly this certificate (pinned by thumbprint),
/// which it can do only if it holds the key. Made by <c>dist-softmax credentials create --out DIR</c>.
/// </summary>
public sealed class ClusterCredentials
{
    public const string CertificateFile = "cluster.pfx";
    public const string PasswordFile = "cluster.password";
    private const string Subject = "CN=distsoftmax-cluster";

    public X509Certificate2 Certificate { get; }
    public string Directory { get; }

    private ClusterCredentials(X509Certificate2 certificate, string directory)
    {
        Certificate = certificate;
        Directory = directory;
    }

    /// <summary>Writes a new certificate and password into <paramref name="directory"/> (created if missing; existing
    /// credentials there are never overwritten). Both files are readable by the owner only on Unix.</summary>
    public static ClusterCredentials Create(string directory, TimeSpan? validity = null)
    {
        var dir = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(dir);
        string pfxPath = Path.Combine(dir, CertificateFile), passwordPath = Path.Combine(dir, PasswordFile);
        if (File.Exists(pfxPath) || File.Exists(passwordPath))
            throw new IOException($"{dir} already holds cluster credentials; remove them first or choose another directory");
        string password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        using var key = RSA.Create(3072);
        var request = new CertificateRequest(Subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false)); // server and client authentication
        var now = DateTimeOffset.UtcNow;
        using var cert = request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? TimeSpan.FromDays(5 * 365)));
        WritePrivate(passwordPath, System.Text.Encoding.UTF8.GetBytes(password + "\n"));
        WritePrivate(pfxPath, cert.Export(X509ContentType.Pfx, password));
        return Load(dir);
    }

    /// <summary>Reads the credentials of <paramref name="directory"/>; a missing or unreadable pair is an
    /// <see cref="ArgumentException"/> naming the file.</summary>
    public static ClusterCredentials Load(string directory)
    {
        var dir = Path.GetFullPath(directory);
        string pfxPath = Path.Combine(dir, CertificateFile), passwordPath = Path.Combine(dir, PasswordFile);
        if (!File.Exists(pfxPath) || !File.Exists(passwordPath))
            throw new ArgumentException($"{dir}: no cluster credentials ({CertificateFile} and {PasswordFile}); create them with 'dist-softmax credentials create --out {directory}'");
        try
        {
            string password = File.ReadAllText(passwordPath).Trim();
            var cert = X509CertificateLoader.LoadPkcs12FromFile(pfxPath, password, X509KeyStorageFlags.DefaultKeySet);
            if (!cert.HasPrivateKey) throw new CryptographicException("the certificate has no private key");
            return new ClusterCredentials(cert, dir);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{pfxPath}: not usable cluster credentials: {e.Message}", e);
        }
    }

    /// <summary>The transport setup: TLS, mutual authentication, and a peer accepted only with this very certificate.</summary>
    internal DotNettySslSetup SslSetup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false,
            customValidator: CertificateValidation.PinnedCertificate(Certificate.Thumbprint));

    private static void WritePrivate(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        stream.Write(bytes);
    }
}
