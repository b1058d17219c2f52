using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace GcHeap.Generators;

/// <summary>
/// Turns a <c>[GcObject] partial struct</c> into a registered GcHeap type with typed accessors
/// (see GcHeap.GcObjectAttribute for what is generated).
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class GcObjectGenerator : IIncrementalGenerator
{
    private const string AttributeName = "GcHeap.GcObjectAttribute";

    private static readonly DiagnosticDescriptor UnsupportedField = new(
        "GCH001", "Unsupported field type", "Field '{0}' of [GcObject] struct '{1}' has type '{2}': use GcRef, byte, sbyte, short, ushort, int, uint, long, ulong, float, double, bool, char, or byte[] with [GcBytes(length)]",
        "GcHeap", DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly DiagnosticDescriptor NotPartial = new(
        "GCH002", "[GcObject] struct must be partial, mutable and top-level", "[GcObject] struct '{0}' must be a non-generic, non-readonly partial struct declared directly in a namespace",
        "GcHeap", DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly DiagnosticDescriptor BadBytes = new(
        "GCH003", "Bad [GcBytes] field", "Field '{0}' of [GcObject] struct '{1}': [GcBytes(length)] needs a byte[] field and a length of at least 1",
        "GcHeap", DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly Dictionary<SpecialType, string> ValueTypes = new()
    {
        [SpecialType.System_Byte] = "byte",
        [SpecialType.System_SByte] = "sbyte",
        [SpecialType.System_Int16] = "short",
        [SpecialType.System_UInt16] = "ushort",
        [SpecialType.System_Int32] = "int",
        [SpecialType.System_UInt32] = "uint",
        [SpecialType.System_Int64] = "long",
        [SpecialType.System_UInt64] = "ulong",
        [SpecialType.System_Single] = "float",
        [SpecialType.System_Double] = "double",
        [SpecialType.System_Boolean] = "bool",
        [SpecialType.System_Char] = "char",
    };

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var shapes = context.SyntaxProvider.ForAttributeWithMetadataName(
            AttributeName,
            static (node, _) => node is StructDeclarationSyntax,
            static (ctx, _) => Analyze(ctx));
        context.RegisterSourceOutput(shapes, static (spc, result) =>
        {
            foreach (var d in result.Diagnostics)
            {
                spc.ReportDiagnostic(d);
            }

            if (result.Source is not null)
            {
                spc.AddSource(result.HintName, result.Source);
            }
        });
    }

    private sealed class Result : IEquatable<Result>
    {
        public Result(string hintName, string? source, ImmutableArray<Diagnostic> diagnostics)
        {
            HintName = hintName;
            Source = source;
            Diagnostics = diagnostics;
        }

        public string HintName { get; }

        public string? Source { get; }

        public ImmutableArray<Diagnostic> Diagnostics { get; }

        public bool Equals(Result? other) =>
            other is not null && HintName == other.HintName && Source == other.Source && Diagnostics.SequenceEqual(other.Diagnostics);

        public override bool Equals(object? obj) => Equals(obj as Result);

        public override int GetHashCode() => (HintName.GetHashCode() * 31) ^ (Source?.GetHashCode() ?? 0);
    }

    private enum Kind
    {
        Reference,
        Value,
        Bytes,
    }

    private sealed class Field
    {
        public Field(string name, Kind kind, string type, int length)
        {
            Name = name;
            Kind = kind;
            Type = type;
            Length = length;
        }

        public string Name { get; }

        public Kind Kind { get; }

        public string Type { get; }

        public int Length { get; }
    }

    private static Result Analyze(GeneratorAttributeSyntaxContext ctx)
    {
        var symbol = (INamedTypeSymbol)ctx.TargetSymbol;
        var syntax = (StructDeclarationSyntax)ctx.TargetNode;
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        string hint = symbol.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", "").Replace('<', '_').Replace('>', '_') + ".GcObject.g.cs";

        if (!syntax.Modifiers.Any(SyntaxKind.PartialKeyword) || symbol.ContainingType is not null || symbol.IsGenericType || symbol.IsReadOnly)
        {
            diagnostics.Add(Diagnostic.Create(NotPartial, syntax.Identifier.GetLocation(), symbol.Name));
            return new Result(hint, null, diagnostics.ToImmutable());
        }

        string typeName = symbol.Name;
        var attr = ctx.Attributes[0];
        if (attr.ConstructorArguments.Length == 1 && attr.ConstructorArguments[0].Value is string n && n.Length > 0)
        {
            typeName = n;
        }

        var fields = new List<Field>();
        foreach (var member in symbol.GetMembers())
        {
            ITypeSymbol memberType;
            bool readOnly;
            switch (member)
            {
                case IFieldSymbol f when !f.IsStatic && !f.IsConst && !f.IsImplicitlyDeclared:
                    memberType = f.Type;
                    readOnly = f.IsReadOnly;
                    break;
                case IPropertySymbol p when !p.IsStatic && !p.IsIndexer && p.GetMethod is not null:
                    memberType = p.Type;
                    readOnly = p.SetMethod is null || p.SetMethod.IsInitOnly;
                    if (readOnly && !IsAutoProperty(p))
                    {
                        continue; // a computed property is not part of the shape
                    }

                    break;
                default:
                    continue;
            }

            var location = member.Locations.FirstOrDefault();
            if (readOnly)
            {
                diagnostics.Add(Diagnostic.Create(NotPartial, location, symbol.Name));
                continue;
            }

            var bytesAttr = member.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == "GcHeap.GcBytesAttribute");
            if (bytesAttr is not null)
            {
                bool isByteArray = memberType is IArrayTypeSymbol { Rank: 1, ElementType.SpecialType: SpecialType.System_Byte };
                int length = bytesAttr.ConstructorArguments.Length == 1 && bytesAttr.ConstructorArguments[0].Value is int l ? l : 0;
                if (!isByteArray || length < 1)
                {
                    diagnostics.Add(Diagnostic.Create(BadBytes, location, member.Name, symbol.Name));
                    continue;
                }

                fields.Add(new Field(member.Name, Kind.Bytes, "byte[]", length));
            }
            else if (memberType.ToDisplayString() == "GcHeap.GcRef")
            {
                fields.Add(new Field(member.Name, Kind.Reference, "global::GcHeap.GcRef", 0));
            }
            else if (ValueTypes.TryGetValue(memberType.SpecialType, out string? keyword))
            {
                fields.Add(new Field(member.Name, Kind.Value, keyword, 0));
            }
            else
            {
                diagnostics.Add(Diagnostic.Create(UnsupportedField, location, member.Name, symbol.Name, memberType.ToDisplayString()));
            }
        }

        if (diagnostics.Count > 0)
        {
            return new Result(hint, null, diagnostics.ToImmutable());
        }

        string ns = symbol.ContainingNamespace.IsGlobalNamespace ? "" : symbol.ContainingNamespace.ToDisplayString();
        return new Result(hint, Emit(ns, symbol.Name, typeName, fields), diagnostics.ToImmutable());
    }

    /// <summary>A property whose accessors have no bodies (the compiler gives it a backing field).</summary>
    private static bool IsAutoProperty(IPropertySymbol p) =>
        p.DeclaringSyntaxReferences.Select(r => r.GetSyntax()).OfType<PropertyDeclarationSyntax>().Any(d =>
            d.ExpressionBody is null && d.AccessorList is not null && d.AccessorList.Accessors.All(a => a.Body is null && a.ExpressionBody is null));

    private static string Literal(string s) => SymbolDisplay.FormatLiteral(s, quote: true);

    private static string TokenType(Field f) => f.Kind switch
    {
        Kind.Reference => "global::GcHeap.GcRefField",
        Kind.Bytes => "global::GcHeap.GcBytesField",
        _ => $"global::GcHeap.GcField<{f.Type}>",
    };

    private static string Emit(string ns, string name, string typeName, List<Field> fields)
    {
        var sb = new StringBuilder();
        sb.AppendLine("// <auto-generated/> by GcHeap.Generators.GcObjectGenerator");
        sb.AppendLine("#nullable enable");
        if (ns.Length > 0)
        {
            sb.AppendLine($"namespace {ns};");
        }

        sb.AppendLine();
        sb.AppendLine($"partial struct {name}");
        sb.AppendLine("{");
        sb.AppendLine("    private static readonly global::System.Runtime.CompilerServices.ConditionalWeakTable<global::GcHeap.Heap, Layout> s_layouts = new();");
        sb.AppendLine();
        sb.AppendLine($"    /// <summary>The name {name} is registered under in a heap.</summary>");
        sb.AppendLine($"    public const string GcTypeName = {Literal(typeName)};");
        sb.AppendLine();
        sb.AppendLine($"    /// <summary>Defines {name} in <paramref name=\"heap\"/> (or finds the existing definition, which must have the same fields) and returns its layout; cached per heap.</summary>");
        sb.AppendLine("    /// <exception cref=\"global::System.ArgumentNullException\"><paramref name=\"heap\"/> is null.</exception>");
        sb.AppendLine("    /// <exception cref=\"global::System.ArgumentException\">The heap has a type of this name with other fields.</exception>");
        sb.AppendLine("    public static Layout Register(global::GcHeap.Heap heap)");
        sb.AppendLine("    {");
        sb.AppendLine("        global::System.ArgumentNullException.ThrowIfNull(heap);");
        sb.AppendLine("        return s_layouts.GetValue(heap, static h => new Layout(Define(h)));");
        sb.AppendLine("    }");
        sb.AppendLine();
        sb.AppendLine("    private static global::GcHeap.GcType Define(global::GcHeap.Heap heap)");
        sb.AppendLine("    {");
        sb.AppendLine("        if (heap.Types.TryGet(GcTypeName, out var existing))");
        sb.AppendLine("        {");
        sb.AppendLine("            Check(existing);");
        sb.AppendLine("            return existing;");
        sb.AppendLine("        }");
        sb.AppendLine();
        sb.Append("        return heap.Types.DefineObject(GcTypeName, static b => b");
        foreach (var f in fields)
        {
            sb.Append(f.Kind switch
            {
                Kind.Reference => $".Reference({Literal(f.Name)})",
                Kind.Bytes => $".Bytes({Literal(f.Name)}, {f.Length})",
                _ => $".Value<{f.Type}>({Literal(f.Name)})",
            });
        }

        sb.AppendLine(");");
        sb.AppendLine("    }");
        sb.AppendLine();
        sb.AppendLine("    private static void Check(global::GcHeap.GcType t)");
        sb.AppendLine("    {");
        sb.AppendLine($"        bool same = t.Kind == global::GcHeap.GcTypeKind.Object && t.Fields.Count == {fields.Count}");
        for (int i = 0; i < fields.Count; i++)
        {
            var f = fields[i];
            string cond = f.Kind switch
            {
                Kind.Reference => $"t.Fields[{i}].Kind == global::GcHeap.GcFieldKind.Reference",
                Kind.Bytes => $"t.Fields[{i}].Kind == global::GcHeap.GcFieldKind.Bytes && t.Fields[{i}].Size == {f.Length}",
                _ => $"t.Fields[{i}].Kind == global::GcHeap.GcFieldKind.Value && t.Fields[{i}].ValueType == typeof({f.Type})",
            };
            sb.AppendLine($"            && t.Fields[{i}].Name == {Literal(f.Name)} && {cond}");
        }

        sb.AppendLine("            ;");
        sb.AppendLine("        if (!same)");
        sb.AppendLine("        {");
        sb.AppendLine($"            throw new global::System.ArgumentException($\"The heap already has a type named '{{GcTypeName}}' with other fields than [GcObject] struct {name}.\", \"heap\");");
        sb.AppendLine("        }");
        sb.AppendLine("    }");
        sb.AppendLine();

        // The layout: type, tokens, accessors.
        sb.AppendLine($"    /// <summary>{name}'s type and field tokens in one heap, with typed accessors for handles and views. Get it from <see cref=\"Register\"/>.</summary>");
        sb.AppendLine("    public sealed class Layout");
        sb.AppendLine("    {");
        sb.AppendLine("        internal Layout(global::GcHeap.GcType type)");
        sb.AppendLine("        {");
        sb.AppendLine("            Type = type;");
        foreach (var f in fields)
        {
            string get = f.Kind switch
            {
                Kind.Reference => $"type.RefField({Literal(f.Name)})",
                Kind.Bytes => $"type.BytesField({Literal(f.Name)})",
                _ => $"type.Field<{f.Type}>({Literal(f.Name)})",
            };
            sb.AppendLine($"            {f.Name}Field = {get};");
        }

        sb.AppendLine("        }");
        sb.AppendLine();
        sb.AppendLine("        /// <summary>The registered type.</summary>");
        sb.AppendLine("        public global::GcHeap.GcType Type { get; }");
        foreach (var f in fields)
        {
            sb.AppendLine();
            sb.AppendLine($"        /// <summary>The token of field {f.Name}.</summary>");
            sb.AppendLine($"        public {TokenType(f)} {f.Name}Field {{ get; }}");
        }

        // Handle API.
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>Allocates a {name} with every field zero / null.</summary>");
        sb.AppendLine("        public global::GcHeap.GcRef Allocate(global::GcHeap.Mutator m) => m.Allocate(Type);");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>Allocates a {name} with the fields of <paramref name=\"init\"/> (bytes fields: null leaves zeros).</summary>");
        sb.AppendLine($"        public global::GcHeap.GcRef Allocate(global::GcHeap.Mutator m, in {name} init)");
        sb.AppendLine("        {");
        var refs = fields.Where(f => f.Kind == Kind.Reference).Select(f => "init." + f.Name).ToList();
        sb.AppendLine(refs.Count == 0
            ? "            var obj = m.Allocate(Type);"
            : $"            var obj = m.Allocate(Type, {string.Join(", ", refs)});");
        foreach (var f in fields.Where(f => f.Kind != Kind.Reference))
        {
            sb.AppendLine(f.Kind == Kind.Bytes
                ? $"            if (init.{f.Name} is not null) m.WriteBytes(obj, {f.Name}Field, init.{f.Name});"
                : $"            m.Set(obj, {f.Name}Field, init.{f.Name});");
        }

        sb.AppendLine("            return obj;");
        sb.AppendLine("        }");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>Reads every field of <paramref name=\"obj\"/> (reference fields as new local handles).</summary>");
        sb.AppendLine($"        public {name} Read(global::GcHeap.Mutator m, global::GcHeap.GcRef obj)");
        sb.AppendLine("        {");
        sb.AppendLine($"            var v = new {name}();");
        foreach (var f in fields)
        {
            switch (f.Kind)
            {
                case Kind.Reference:
                    sb.AppendLine($"            v.{f.Name} = m.GetRef(obj, {f.Name}Field);");
                    break;
                case Kind.Bytes:
                    sb.AppendLine($"            var {f.Name}Bytes = new byte[{f.Length}];");
                    sb.AppendLine($"            m.ReadBytes(obj, {f.Name}Field, {f.Name}Bytes);");
                    sb.AppendLine($"            v.{f.Name} = {f.Name}Bytes;");
                    break;
                default:
                    sb.AppendLine($"            v.{f.Name} = m.Get(obj, {f.Name}Field);");
                    break;
            }
        }

        sb.AppendLine("            return v;");
        sb.AppendLine("        }");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>Writes every field of <paramref name=\"value\"/> into <paramref name=\"obj\"/> (bytes fields: null leaves them as they are).</summary>");
        sb.AppendLine($"        public void Write(global::GcHeap.Mutator m, global::GcHeap.GcRef obj, in {name} value)");
        sb.AppendLine("        {");
        foreach (var f in fields)
        {
            sb.AppendLine(f.Kind switch
            {
                Kind.Reference => $"            m.SetRef(obj, {f.Name}Field, value.{f.Name});",
                Kind.Bytes => $"            if (value.{f.Name} is not null) m.WriteBytes(obj, {f.Name}Field, value.{f.Name});",
                _ => $"            m.Set(obj, {f.Name}Field, value.{f.Name});",
            });
        }

        sb.AppendLine("        }");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>True when <paramref name=\"obj\"/> is a {name} (false for null).</summary>");
        sb.AppendLine("        public bool Is(global::GcHeap.Mutator m, global::GcHeap.GcRef obj) => m.Is(obj, Type);");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>Allocates a {name} through the fast path (see GcContext.Allocate).</summary>");
        sb.AppendLine("        public global::GcHeap.GcView Allocate(global::GcHeap.GcContext context) => context.Allocate(Type);");
        sb.AppendLine();
        sb.AppendLine($"        /// <summary>True when <paramref name=\"obj\"/> is a {name} (false for null).</summary>");
        sb.AppendLine("        public bool Is(global::GcHeap.GcView obj) => !obj.IsNull && obj.Is(Type);");
        foreach (var f in fields)
        {
            sb.AppendLine();
            switch (f.Kind)
            {
                case Kind.Reference:
                    sb.AppendLine($"        /// <summary>Field {f.Name} as a new local handle.</summary>");
                    sb.AppendLine($"        public global::GcHeap.GcRef Get{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj) => m.GetRef(obj, {f.Name}Field);");
                    sb.AppendLine($"        /// <summary>Stores <paramref name=\"value\"/> in field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Set{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj, global::GcHeap.GcRef value) => m.SetRef(obj, {f.Name}Field, value);");
                    sb.AppendLine($"        /// <summary>Field {f.Name} as a view.</summary>");
                    sb.AppendLine($"        public global::GcHeap.GcView Get{f.Name}(global::GcHeap.GcView obj) => obj.GetRef({f.Name}Field);");
                    sb.AppendLine($"        /// <summary>Stores <paramref name=\"value\"/> in field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Set{f.Name}(global::GcHeap.GcView obj, global::GcHeap.GcView value) => obj.SetRef({f.Name}Field, value);");
                    break;
                case Kind.Bytes:
                    sb.AppendLine($"        /// <summary>Copies field {f.Name} into <paramref name=\"destination\"/>.</summary>");
                    sb.AppendLine($"        public void Read{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj, global::System.Span<byte> destination) => m.ReadBytes(obj, {f.Name}Field, destination);");
                    sb.AppendLine($"        /// <summary>Copies <paramref name=\"source\"/> into field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Write{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj, global::System.ReadOnlySpan<byte> source) => m.WriteBytes(obj, {f.Name}Field, source);");
                    sb.AppendLine($"        /// <summary>Copies field {f.Name} into <paramref name=\"destination\"/>.</summary>");
                    sb.AppendLine($"        public void Read{f.Name}(global::GcHeap.GcView obj, global::System.Span<byte> destination) => obj.ReadBytes({f.Name}Field, destination);");
                    sb.AppendLine($"        /// <summary>Copies <paramref name=\"source\"/> into field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Write{f.Name}(global::GcHeap.GcView obj, global::System.ReadOnlySpan<byte> source) => obj.WriteBytes({f.Name}Field, source);");
                    break;
                default:
                    sb.AppendLine($"        /// <summary>Field {f.Name}.</summary>");
                    sb.AppendLine($"        public {f.Type} Get{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj) => m.Get(obj, {f.Name}Field);");
                    sb.AppendLine($"        /// <summary>Stores <paramref name=\"value\"/> in field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Set{f.Name}(global::GcHeap.Mutator m, global::GcHeap.GcRef obj, {f.Type} value) => m.Set(obj, {f.Name}Field, value);");
                    sb.AppendLine($"        /// <summary>Field {f.Name}.</summary>");
                    sb.AppendLine($"        public {f.Type} Get{f.Name}(global::GcHeap.GcView obj) => obj.Get({f.Name}Field);");
                    sb.AppendLine($"        /// <summary>Stores <paramref name=\"value\"/> in field {f.Name}.</summary>");
                    sb.AppendLine($"        public void Set{f.Name}(global::GcHeap.GcView obj, {f.Type} value) => obj.Set({f.Name}Field, value);");
                    break;
            }
        }

        sb.AppendLine("    }");
        sb.AppendLine("}");
        return sb.ToString();
    }
}
